/// A value with a direct JSON form, read and written without Foundation: the generated models,
/// their enums and `JSONValue`. The client's typed routes use it; it keeps every number's text
/// (see `JSONNumber`) and is several times faster than `JSONDecoder`/`JSONEncoder` on Linux.
/// The models are `Codable` as well, for code that uses Foundation's coders itself. The reader's and
/// writer's methods are the package's own: the conformances are the generated ones.
public protocol JSONCodable {
    /// Reads one value; throws when the JSON is malformed or does not fit the type.
    init(json reader: inout JSONReader) throws
    /// Appends the value's compact JSON.
    func write(to writer: inout JSONWriter)
}

extension JSONCodable {
    /// Decodes JSON text. Throws `PiecesError` with category `.malformedJSON` when the text is not
    /// JSON, `.invalidDocument` when it is JSON that does not fit the type (a required key missing,
    /// a value of the wrong type, an integer beyond `Int64`).
    public init(jsonText: String) throws {
        do {
            self = try JSONReader.read(jsonText) { try Self(json: &$0) }
        } catch let error as JSONReadError {
            throw PiecesError.document(error)
        }
    }

    /// Compact JSON text: the model's keys in schema order, then the unknown ones sorted.
    public func jsonText() -> String {
        var writer = JSONWriter()
        write(to: &writer)
        return writer.text
    }
}
