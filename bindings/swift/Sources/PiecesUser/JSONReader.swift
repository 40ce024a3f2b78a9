/// A pull reader over UTF-8 JSON bytes: what the generated models' `init(json:)` decode from,
/// without Foundation. Strict RFC 8259: no trailing commas, no comments, no lone surrogate escapes
/// (refused like the C library refuses them), nesting less than 128 deep (the C library's limit).
///
/// It reads from memory it does not own: make one with `JSONReader.read(_:from:)`, which keeps the
/// bytes alive for the duration of the read.
public struct JSONReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0

    static let depthLimit = 128

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Decodes one whole document (nothing but whitespace may follow it).
    static func read<T>(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (inout JSONReader) throws -> T) throws -> T {
        var reader = JSONReader(bytes)
        let value = try body(&reader)
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw reader.syntax("unexpected text after the document") }
        return value
    }

    static func read<T>(_ text: String, _ body: (inout JSONReader) throws -> T) throws -> T {
        var text = text
        return try text.withUTF8 { try read($0, body) }
    }

    // MARK: Structure

    /// Consumes `{`; true when the object has members (read each with `readKey`, then `endMember`).
    mutating func beginObject() throws -> Bool {
        try open(UInt8(ascii: "{"), "an object")
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return false
        }
        return true
    }

    /// The next member's key, with its `:` consumed. A key without escapes is not copied: the
    /// models match it against their keys in place and make a `String` only for an unknown one.
    mutating func readKey() throws -> JSONKey {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { throw mismatch("a string") }
        let start = index + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 {
            end += 1
        }
        let key: JSONKey
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            key = JSONKey(raw: UnsafeBufferPointer(rebasing: bytes[start..<end]), decoded: nil)
            index = end + 1
        } else {
            key = JSONKey(raw: UnsafeBufferPointer(start: nil, count: 0), decoded: try readString())
        }
        skipWhitespace()
        guard peek() == UInt8(ascii: ":") else { throw syntax("expected ':' after an object key") }
        index += 1
        return key
    }

    /// After a member's value: true when another member follows (`,`), false at the closing `}`.
    mutating func endMember() throws -> Bool {
        try separator(close: UInt8(ascii: "}"), "',' or '}' in an object")
    }

    /// Consumes `[`; true when the array has elements (read each, then `endElement`).
    mutating func beginArray() throws -> Bool {
        try open(UInt8(ascii: "["), "an array")
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return false
        }
        return true
    }

    mutating func endElement() throws -> Bool {
        try separator(close: UInt8(ascii: "]"), "',' or ']' in an array")
    }

    /// An array whose elements `element` reads.
    mutating func readArray<T>(_ element: (inout JSONReader) throws -> T) throws -> [T] {
        var items: [T] = []
        var more = try beginArray()
        while more {
            items.append(try element(&self))
            more = try endElement()
        }
        return items
    }

    /// An object of integers (the schema's `additionalProperties: integer`).
    mutating func readIntMap() throws -> [String: Int64] {
        var map: [String: Int64] = [:]
        var more = try beginObject()
        while more {
            let key = try readKey()
            map[key.string] = try readInt64()
            more = try endMember()
        }
        return map
    }

    private mutating func open(_ byte: UInt8, _ what: String) throws {
        skipWhitespace()
        guard peek() == byte else { throw mismatch(what) }
        depth += 1
        guard depth < Self.depthLimit else { throw syntax("nesting \(Self.depthLimit) deep or more") }
        index += 1
    }

    private mutating func separator(close: UInt8, _ what: String) throws -> Bool {
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: ","):
            index += 1
            return true
        case close:
            index += 1
            depth -= 1
            return false
        default:
            throw syntax("expected \(what)")
        }
    }

    // MARK: Scalars

    /// True (and the `null` consumed) when the next value is `null`.
    mutating func readNull() throws -> Bool {
        skipWhitespace()
        guard peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    mutating func readBool() throws -> Bool {
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: "t"):
            try literal("true")
            return true
        case UInt8(ascii: "f"):
            try literal("false")
            return false
        default:
            throw mismatch("a boolean")
        }
    }

    mutating func readString() throws -> String {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { throw mismatch("a string") }
        index += 1
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { return try readEscapedString(from: start) }
            if byte < 0x20 { throw syntax("a control character in a string must be escaped") }
            index += 1
        }
        throw syntax("unterminated string")
    }

    /// The rest of a string that has escapes, from its first byte at `start`.
    private mutating func readEscapedString(from start: Int) throws -> String {
        var out = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try readEscape(into: &out)
            case 0..<0x20:
                index -= 1
                throw syntax("a control character in a string must be escaped")
            default:
                out.append(byte)
            }
        }
        throw syntax("unterminated string")
    }

    private mutating func readEscape(into out: inout [UInt8]) throws {
        guard index < bytes.count else { throw syntax("unterminated string") }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(byte)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"): append(scalar: try readUnicodeEscape(), to: &out)
        default:
            index -= 1
            throw syntax("invalid escape in a string")
        }
    }

    /// After `\u`: one scalar, joining a surrogate pair; a lone surrogate is refused.
    private mutating func readUnicodeEscape() throws -> UInt32 {
        let first = try readHex4()
        switch first {
        case 0xD800...0xDBFF:
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
            else { throw syntax("a lone surrogate escape in a string") }
            index += 2
            let second = try readHex4()
            guard (0xDC00...0xDFFF).contains(second) else { throw syntax("a lone surrogate escape in a string") }
            return 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        case 0xDC00...0xDFFF:
            throw syntax("a lone surrogate escape in a string")
        default:
            return first
        }
    }

    private mutating func readHex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw syntax("a truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw syntax("a \\u escape needs four hex digits")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private func append(scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// A number of any size, kept as its literal.
    mutating func readNumber() throws -> JSONNumber {
        let (start, _) = try scanNumber()
        return JSONNumber(
            validated: String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
    }

    /// An integer field: an integer literal (no fraction, no exponent) within `Int64`, as the C
    /// library's validator demands of the schema's integers.
    mutating func readInt64() throws -> Int64 {
        let (start, integral) = try scanNumber()
        guard integral else {
            index = start
            throw mismatch("an integer")
        }
        let negative = bytes[start] == UInt8(ascii: "-")
        var value: Int64 = 0
        var overflow = false
        for i in (negative ? start + 1 : start)..<index {
            let digit = Int64(bytes[i] - UInt8(ascii: "0"))
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            // Accumulated negative so that Int64.min fits.
            let (next, o2) = negative ? times10.subtractingReportingOverflow(digit) : times10.addingReportingOverflow(digit)
            overflow = overflow || o1 || o2
            value = next
        }
        guard !overflow else {
            index = start
            throw mismatch("an integer within Int64")
        }
        return value
    }

    /// Checks the number grammar and moves past it: its first byte and whether it is an integer.
    private mutating func scanNumber() throws -> (start: Int, integral: Bool) {
        skipWhitespace()
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        switch peek() {
        case UInt8(ascii: "0"):
            index += 1
        case UInt8(ascii: "1")...UInt8(ascii: "9"):
            skipDigits()
        default:
            index = start
            if peek() == UInt8(ascii: "-") { throw syntax("a number needs digits") }
            throw mismatch("a number")
        }
        var integral = true
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard try skipRequiredDigits() else { throw syntax("a number needs digits after '.'") }
            integral = false
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard try skipRequiredDigits() else { throw syntax("a number needs digits in its exponent") }
            integral = false
        }
        return (start, integral)
    }

    private mutating func skipDigits() {
        while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 { index += 1 }
    }

    private mutating func skipRequiredDigits() throws -> Bool {
        let before = index
        skipDigits()
        return index > before
    }

    /// Any value, for `extra`.
    mutating func readValue() throws -> JSONValue {
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: "{"):
            var members: [String: JSONValue] = [:]
            var more = try beginObject()
            while more {
                let key = try readKey()
                members[key.string] = try readValue()
                more = try endMember()
            }
            return .object(members)
        case UInt8(ascii: "["):
            return .array(try readArray { try $0.readValue() })
        case UInt8(ascii: "\""):
            return .string(try readString())
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            return .bool(try readBool())
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            return .number(try readNumber())
        }
    }

    /// Skips one value of any kind.
    mutating func skipValue() throws {
        _ = try readValue()
    }

    // MARK: Bytes

    @inline(__always)
    private func peek() -> UInt8 {
        index < bytes.count ? bytes[index] : 0
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        let matches =
            index + count <= bytes.count
            && word.withUTF8Buffer { expected in
                (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
            }
        guard matches else { throw syntax("invalid literal") }
        index += count
    }

    // MARK: Errors

    func syntax(_ message: String) -> JSONReadError {
        JSONReadError(kind: .syntax, message: message, offset: index)
    }

    /// A well-formed value of the wrong type (or out of range) for the model.
    func mismatch(_ expected: String) -> JSONReadError {
        let found: String
        switch peek() {
        case UInt8(ascii: "{"): found = "an object"
        case UInt8(ascii: "["): found = "an array"
        case UInt8(ascii: "\""): found = "a string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): found = "a boolean"
        case UInt8(ascii: "n"): found = "null"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): found = "a number"
        case 0 where index >= bytes.count: return syntax("unexpected end of the document")
        default: return syntax("unexpected character")
        }
        return JSONReadError(kind: .shape, message: "expected \(expected), found \(found)", offset: index)
    }

    /// A required key that the object lacks; thrown after its closing brace.
    func missing(_ key: String, in model: String) -> JSONReadError {
        JSONReadError(kind: .shape, message: "\(model) lacks the required key \"\(key)\"", offset: index)
    }
}

/// An object key as `JSONReader.readKey` found it: its bytes in the document, or its decoded text
/// when it had escapes. Valid only while the reader's bytes are.
public struct JSONKey {
    let raw: UnsafeBufferPointer<UInt8>
    let decoded: String?

    var string: String { decoded ?? String(decoding: raw, as: UTF8.self) }

    /// Lets the generated `switch key { case "id": ... }` compare bytes, with no `String` made.
    @inline(__always)
    static func ~= (pattern: StaticString, key: JSONKey) -> Bool {
        if let decoded = key.decoded { return decoded == pattern.description }
        guard pattern.utf8CodeUnitCount == key.raw.count else { return false }
        let expected = pattern.utf8Start
        for i in 0..<key.raw.count where key.raw[i] != expected[i] { return false }
        return true
    }
}

/// Why `JSONReader` stopped: not JSON at all (`syntax`), or JSON that does not fit the model
/// (`shape`). The client turns it into a `PiecesError`.
struct JSONReadError: Error, CustomStringConvertible {
    enum Kind { case syntax, shape }
    var kind: Kind
    var message: String
    /// The byte offset where reading stopped.
    var offset: Int

    var description: String { "\(message) (at byte \(offset))" }
}
