import CPiecesUser
import Foundation
import XCTest

@testable import PiecesUser

/// The package's own JSON reader and writer (the typed routes' fast path): numbers kept as their
/// literal, string escapes, strictness, and the errors it raises.
final class JSONCodecTests: XCTestCase {
    static let fifty = "12345678901234567890123456789012345678901234567890"

    static let long = "0.1000000000000000000000000000000000000000000000001"

    /// UserProfile.max.json with numbers no Double or Decimal holds: under unknown keys and in the
    /// schema's number fields (ModelMaxTokens.input, .output and .total; `total` gets `numberField`).
    func hugeNumbersDocument(numberField: String = "1.7976931348623157e308") throws -> String {
        var doc = try fixtureText("UserProfile.max.json")
        let before = doc
        doc = doc.replacingOccurrences(of: #""input": 111616"#, with: #""input": \#(Self.fifty)"#)
        doc = doc.replacingOccurrences(of: #""output": 16384"#, with: #""output": \#(Self.long)"#)
        doc = doc.replacingOccurrences(of: #""total": 128000"#, with: #""total": \#(numberField)"#)
        XCTAssertNotEqual(doc, before)
        let brace = doc.firstIndex(of: "{")!
        doc.insert(
            contentsOf: #""huge": \#(Self.fifty), "far": 1e400, "tiny": -2.5E-400, "list": [1e400, -0.0, \#(Self.fifty)],"#,
            at: doc.index(after: brace))
        return doc
    }

    func testHugeNumbersRoundTripByteEqualThroughTheServer() throws {
        let standin = try Standin()
        defer { standin.stop() }
        let client = try PiecesClient(baseURL: standin.url)
        let text = try hugeNumbersDocument()
        // What the typed routes did before (JSONDecoder): refused (1e400 is beyond Double).
        XCTAssertThrowsError(try decoded(UserProfile.self, text))
        let profile = try UserProfile(jsonText: text)
        XCTAssertEqual(profile.extra["far"], .number(JSONNumber(text: "1e400")!))
        let tokens = profile.entities?.iterable.first?.reference?.configuration.externalProvider?
            .allowedCloudModels?.allowedModels?.iterable.first?.maxTokens
        XCTAssertEqual(tokens?.input?.text, Self.fifty)
        XCTAssertEqual(tokens?.output?.text, Self.long)
        XCTAssertEqual(tokens?.total?.text, "1.7976931348623157e308")

        let stored = try client.update(profile)
        XCTAssertEqual(stored, profile)
        // Byte for byte: the text sent is what the stand-in stored and what comes back.
        let sent = profile.jsonText()
        XCTAssertEqual(stored.jsonText(), sent)
        let served = try client.snapshotJSON()
        for literal in [
            #""huge":\#(Self.fifty)"#, #""far":1e400"#, #""tiny":-2.5E-400"#, #""list":[1e400,-0.0,\#(Self.fifty)]"#,
            #""input":\#(Self.fifty)"#, #""output":\#(Self.long)"#, #""total":1.7976931348623157e308"#,
        ] {
            XCTAssertTrue(sent.contains(literal), literal)
            XCTAssertTrue(served.contains(literal), literal)
        }
        XCTAssertEqual(try client.snapshot().user?.jsonText(), sent)
        XCTAssertEqual(try client.refresh().extra["huge"], .number(JSONNumber(text: Self.fifty)!))
    }

    /// The C library's validator refuses a number beyond Double's range in a number field of the
    /// schema (not under an unknown key): the typed route gets the same error as the JSON form.
    func testANumberFieldBeyondDoubleIsRefusedLikeTheJSONForm() throws {
        let server = try SilentServer()
        let client = try PiecesClient(config: PiecesConfig(baseURL: server.url, timeoutMs: 2000))
        let text = try hugeNumbersDocument(numberField: "1e400")
        let profile = try UserProfile(jsonText: text)  // the model holds it
        let typed = piecesError { try client.update(profile) }
        let json = piecesError { try client.updateJSON(text) }
        XCTAssertEqual(typed?.category, .invalidDocument)
        XCTAssertEqual(typed?.path?.hasSuffix(".maxTokens.total"), true, "\(String(describing: typed))")
        XCTAssertEqual(typed?.path, json?.path)
        XCTAssertFalse(server.wasConnected())
    }

    func testNumbersCompareByExactValue() throws {
        let n = { (text: String) in JSONNumber(text: text)! }
        XCTAssertEqual(n("1"), n("1.0"))
        XCTAssertEqual(n("1"), n("1e0"))
        XCTAssertEqual(n("100"), n("1E2"))
        XCTAssertEqual(n("0.1"), n("1e-1"))
        XCTAssertEqual(n("-0"), n("0"))
        XCTAssertEqual(n("1e400").hashValue, n("10e399").hashValue)
        XCTAssertEqual(n("1e400"), n("10e399"))
        XCTAssertNotEqual(n("1e400"), n("1e401"))
        XCTAssertNotEqual(n(Self.fifty), n(Self.fifty + "1"))
        XCTAssertNotEqual(n("0.1"), n("0.10000000000000001"))  // equal as Doubles, not as values
        XCTAssertNotEqual(n("-1"), n("1"))
        XCTAssertEqual(n("1").hashValue, n("1.000").hashValue)

        XCTAssertEqual(n("1e400").doubleValue, .infinity)
        XCTAssertEqual(n("0.5").doubleValue, 0.5)
        XCTAssertEqual(n("1e3").int64Value, 1000)
        XCTAssertEqual(n("-9223372036854775808").int64Value, .min)
        XCTAssertNil(n("9223372036854775808").int64Value)
        XCTAssertNil(n("1.5").int64Value)
        XCTAssertNil(n(Self.fifty).int64Value)
        XCTAssertEqual(n("0.1").decimalValue, Decimal(string: "0.1"))
        XCTAssertNil(n("1e400").decimalValue)

        for bad in ["+1", "1.", ".5", "01", "-", "1e", "NaN", "Infinity", " 1", "1 ", "0x10", ""] {
            XCTAssertNil(JSONNumber(text: bad), bad)
        }
        XCTAssertEqual(JSONNumber(42).text, "42")
        XCTAssertEqual(JSONNumber(0.1).text, "0.1")
        XCTAssertEqual((2.5e-8 as JSONNumber).text, "2.5e-08")
        XCTAssertEqual(JSONNumber(2.5e-8), n("0.000000025"))
    }

    func testStringEscapesDecode() throws {
        let text = #"["\"\\\/\b\f\n\r\t", "\u0000\u0001\u001f\u001F", "\ud83d\ude00\u00e9\u4e2d", "plain é 中 😀"]"#
        XCTAssertEqual(
            try JSONValue(jsonText: text),
            .array([
                .string("\"\\/\u{08}\u{0C}\n\r\t"), .string("\u{00}\u{01}\u{1F}\u{1F}"), .string("😀é中"),
                .string("plain é 中 😀"),
            ]))
    }

    func testEveryControlCharacterIsWrittenEscapedAndReadBack() throws {
        let all = String(String.UnicodeScalarView((0..<0x20).map { Unicode.Scalar(UInt8($0)) })) + "\"\\/é😀"
        let text = JSONValue.string(all).jsonText()
        XCTAssertEqual(
            text,
            #""\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f"#
                + #"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f"#
                + #"\"\\/é😀""#)
        XCTAssertEqual(try JSONValue(jsonText: text), .string(all))
        // Foundation agrees on what the text means.
        XCTAssertEqual(try JSONDecoder().decode(String.self, from: Data(text.utf8)), all)
    }

    func testControlCharactersAndSurrogatePairsSurviveTheServer() throws {
        let standin = try Standin()
        defer { standin.stop() }
        let client = try PiecesClient(baseURL: standin.url)
        var profile = makeProfile("escapes")
        profile.name = "nul\u{0}bell\u{7}tab\tquote\"back\\slash/😀"
        profile.extra["k\u{1}ey"] = .string("\u{1F}\u{10FFFF}")
        let stored = try client.update(profile)
        XCTAssertEqual(stored, profile)
        XCTAssertEqual(stored.name, profile.name)
    }

    func testLoneSurrogatesAndBadEscapesAreMalformed() {
        for text in [
            #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #""\ud800x""#, #""\ude00\ud83d""#, #""\x""#, #""\u12""#,
            "\"raw\ttab\"", "\"raw\u{0}nul\"", #""unterminated"#,
        ] {
            XCTAssertEqual(piecesError { try JSONValue(jsonText: text) }?.category, .malformedJSON, text)
        }
    }

    func testTheReaderIsStrict() {
        for text in [
            "[1,]", "[1 2]", "[,1]", #"{"a":1,}"#, #"{"a" 1}"#, #"{"a":1 "b":2}"#, #"{,"a":1}"#, "[01]", "[1.]",
            "[.5]", "[-]", "[+1]", "[1e]", "tru", "nul", "[true false]", "{} {}", "[", "", "  ", "[1]]", "{'a':1}",
            "[NaN]", "/* c */ 1",
        ] {
            XCTAssertEqual(piecesError { try JSONValue(jsonText: text) }?.category, .malformedJSON, text)
        }
        XCTAssertEqual(try? JSONValue(jsonText: " \n\t[ 1 , -0.5e+3 , \"x\" , { } , [ ] ] \r\n"),
            .array([.number(1), .number(JSONNumber(text: "-0.5e+3")!), .string("x"), .object([:]), .array([])]))
    }

    /// The C library's nesting limit: 127 deep is read, 128 deep is refused (not a stack overflow).
    func testNestingIsLimitedLikeTheCLibrary() {
        let ok = String(repeating: "[", count: 127) + String(repeating: "]", count: 127)
        XCTAssertNoThrow(try JSONValue(jsonText: ok))
        for depth in [128, 100_000] {
            let deep = String(repeating: #"{"a":["#, count: depth / 2) + String(repeating: "]}", count: depth / 2)
            XCTAssertEqual(piecesError { try JSONValue(jsonText: deep) }?.category, .malformedJSON, "\(depth)")
        }
    }

    func testWrongShapesAreInvalidDocuments() throws {
        XCTAssertEqual(try Font(jsonText: #"{"size": -9223372036854775808}"#).size, .min)
        for text in [
            #"{"size": 9223372036854775808}"#, #"{"size": 1.0}"#, #"{"size": 1e2}"#, #"{"size": "14"}"#,
            #"{"size": null}"#, #"{}"#, "[]", #"{"size": 14, "schema": 5}"#,
        ] {
            let error = piecesError { try Font(jsonText: text) }
            XCTAssertEqual(error?.category, .invalidDocument, text)
            XCTAssertEqual(error?.code, PIECES_ERR_INVALID_DOCUMENT, text)
        }
        XCTAssertTrue(piecesError { try Font(jsonText: "{}") }?.message.contains(#"lacks the required key "size""#) ?? false)
    }

    /// A server answer the models cannot hold is `.invalidResponse`, malformed or not.
    func testUndecodableAnswersAreInvalidResponses() {
        for text in [#"{"user": {"id": 5}}"#, #"{"user": "#, "", #"{"user": null} x"#] {
            var bytes = Array(text.utf8)
            let error = piecesError {
                try bytes.withUnsafeMutableBufferPointer { buffer -> ReturnedUserProfile in
                    try PiecesClient.decodeResponse(UnsafeBufferPointer(buffer))
                }
            }
            XCTAssertEqual(error?.category, .invalidResponse, text)
        }
    }

    /// The typed models' two routes agree: the fast reader and Foundation's decoder give equal
    /// models, and the fast writer's text decodes back to the same model.
    func testFastAndCodableRoutesAgreeOnEveryFixture() throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: fixturesDir.path).sorted()
        where name.hasPrefix("UserProfile.") && name.hasSuffix(".json") && !name.contains("schema") {
            let text = try fixtureText(name)
            let fast = try UserProfile(jsonText: text)
            XCTAssertEqual(fast, try decoded(UserProfile.self, text), name)
            XCTAssertEqual(try decoded(UserProfile.self, fast.jsonText()), fast, name)
            XCTAssertEqual(try UserProfile(jsonText: encoded(fast)), fast, name)
        }
    }
}

