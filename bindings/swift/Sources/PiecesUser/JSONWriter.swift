/// Compact UTF-8 JSON output: what the generated models' `write(to:)` append to, without
/// Foundation. Strings are escaped as JSON requires (`"`, `\`, and U+0000...U+001F; nothing else,
/// so `/` and non-ASCII text go out as they are), numbers as their literal text.
public struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
    }

    /// The text written so far.
    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Calls `body` with the text as a NUL-terminated C string.
    mutating func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        bytes.append(0)
        defer { bytes.removeLast() }
        return try bytes.withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    // MARK: Structure

    mutating func beginObject() { bytes.append(UInt8(ascii: "{")) }
    mutating func endObject() { bytes.append(UInt8(ascii: "}")) }
    mutating func beginArray() { bytes.append(UInt8(ascii: "[")) }
    mutating func endArray() { bytes.append(UInt8(ascii: "]")) }

    /// A member key the generator knows to need no escaping (plain ASCII, checked at generation).
    mutating func key(_ key: StaticString) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Any member key.
    mutating func key(_ key: String) {
        comma()
        write(key)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Before an element of an array.
    mutating func element() { comma() }

    /// A separator unless this is the first member or element of its container.
    private mutating func comma() {
        if let last = bytes.last, last != UInt8(ascii: "{"), last != UInt8(ascii: "[") {
            bytes.append(UInt8(ascii: ","))
        }
    }

    mutating func writeArray<T>(_ items: [T], _ element: (inout JSONWriter, T) -> Void) {
        beginArray()
        for item in items {
            self.element()
            element(&self, item)
        }
        endArray()
    }

    /// An object of integers; keys sorted, so equal maps give equal text.
    mutating func write(_ map: [String: Int64]) {
        beginObject()
        for (key, value) in map.sorted(by: { $0.key < $1.key }) {
            self.key(key)
            write(value)
        }
        endObject()
    }

    /// The keys of `extra` that the model does not know (sorted, so equal values give equal text).
    /// Explicit nulls of known keys were written in their place by the model.
    mutating func writeExtra(_ extra: [String: JSONValue], known: Set<String>) {
        guard !extra.isEmpty else { return }
        for (key, value) in extra.sorted(by: { $0.key < $1.key }) where !known.contains(key) {
            self.key(key)
            write(value)
        }
    }

    /// Whether an optional key came as an explicit `null` (kept in `extra` to be written back).
    func keptNull(_ key: String, _ extra: [String: JSONValue]) -> Bool {
        !extra.isEmpty && extra[key] == .null
    }

    // MARK: Scalars

    mutating func writeNull() { append("null") }
    mutating func write(_ value: Bool) { append(value ? "true" : "false") }

    mutating func write(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 24 digits, written backwards
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                count += 1
                buffer[24 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: buffer[(24 - count)..<24])
        }
    }

    mutating func write(_ value: JSONNumber) {
        var text = value.text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func write(_ value: String) {
        var value = value
        bytes.append(UInt8(ascii: "\""))
        value.withUTF8 { utf8 in
            var clean = 0  // start of the run of bytes that need no escape
            var i = 0
            while i < utf8.count {
                let byte = utf8[i]
                if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[clean..<i]))
                    escape(byte)
                    clean = i + 1
                }
                i += 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[clean...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func escape(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): append("\\\"")
        case UInt8(ascii: "\\"): append("\\\\")
        case 0x08: append("\\b")
        case 0x0C: append("\\f")
        case 0x0A: append("\\n")
        case 0x0D: append("\\r")
        case 0x09: append("\\t")
        default:
            let hex: StaticString = "0123456789abcdef"
            append("\\u00")
            hex.withUTF8Buffer { digits in
                bytes.append(digits[Int(byte >> 4)])
                bytes.append(digits[Int(byte & 0xF)])
            }
        }
    }

    /// Any value (objects with sorted keys).
    mutating func write(_ value: JSONValue) {
        switch value {
        case .null: writeNull()
        case .bool(let b): write(b)
        case .number(let n): write(n)
        case .string(let s): write(s)
        case .array(let items): writeArray(items) { $0.write($1) }
        case .object(let members):
            beginObject()
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                self.key(key)
                write(member)
            }
            endObject()
        }
    }

    private mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }
}
