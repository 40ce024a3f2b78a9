import Foundation
import XCTest

@testable import PiecesUser

/// Every official fixture: valid documents decode and re-encode to an equal JSON value (and survive
/// the server); invalid ones are refused before anything is sent, naming the JSON path.
final class FixtureTests: XCTestCase {
    func fixtures(_ suffixes: [String]) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: fixturesDir.path)
            .filter { name in suffixes.contains { name.hasSuffix($0) } }.sorted()
    }

    /// The fixture's text and its text after decoding and re-encoding, through the typed routes'
    /// fast path (`JSONCodable`) or through Foundation's coders (`Codable`).
    func roundTrip(_ name: String, codable: Bool) throws -> (String, String) {
        let text = try fixtureText(name)
        func again<T: Codable & JSONCodable>(_ type: T.Type) throws -> String {
            codable ? try encoded(decoded(type, text)) : try T(jsonText: text).jsonText()
        }
        switch name.split(separator: ".")[0] {
        case "UserProfile": return (text, try again(UserProfile.self))
        case "ReturnedUserProfile": return (text, try again(ReturnedUserProfile.self))
        case "Auth0User": return (text, try again(Auth0User.self))
        case "UserBetaStatus": return (text, try again(UserBetaStatus.self))
        default: throw PiecesError.invalidArgument("no model for \(name)")
        }
    }

    func testEveryValidFixtureRoundTripsToAnEqualValue() throws {
        try everyValidFixtureRoundTrips(codable: false)
    }

    /// The models stay usable with JSONDecoder/JSONEncoder (what users who code them themselves get).
    func testEveryValidFixtureRoundTripsThroughCodableToo() throws {
        try everyValidFixtureRoundTrips(codable: true)
    }

    func everyValidFixtureRoundTrips(codable: Bool) throws {
        let names = try fixtures([".max.json", ".min.json", ".user-null.json", ".user-absent.json"])
        XCTAssertEqual(names.filter { $0.hasSuffix(".max.json") || $0.hasSuffix(".min.json") }.count, 8)
        for name in names {
            let (text, again) = try roundTrip(name, codable: codable)
            XCTAssertEqual(try jsonValue(again), try jsonValue(text), name)
            // A second opinion that does not use the package's JSONValue.
            let before = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary
            let after = try JSONSerialization.jsonObject(with: Data(again.utf8)) as? NSDictionary
            XCTAssertNotNil(before, name)
            XCTAssertEqual(before, after, name)
        }
    }

    func testValidFixturesSurviveTheServer() throws {
        let standin = try Standin()
        defer { standin.stop() }
        let client = try PiecesClient(baseURL: standin.url)
        for name in ["UserProfile.max.json", "UserProfile.min.json"] {
            let profile = try UserProfile(jsonText: fixtureText(name))
            XCTAssertEqual(try client.update(profile), profile, name)
        }
        for name in ["UserBetaStatus.max.json", "UserBetaStatus.min.json"] {
            let status = try UserBetaStatus(jsonText: fixtureText(name))
            XCTAssertEqual(try client.betaStatus(status).user, status.user, name)
        }
        for name in ["Auth0User.max.json", "Auth0User.min.json"] {
            XCTAssertFalse(try client.select(Auth0User(jsonText: fixtureText(name))).id.isEmpty, name)
        }
    }

    /// Where ../shared/fixtures/README.md says the fault is; for a missing key the object or the key.
    static let expectedPath: [String: [String]] = [
        "UserProfile.1.json": ["$", "$.id"],
        "UserProfile.2.json": ["$", "$.aesthetics"],
        "UserProfile.3.json": ["$.id"],
        "UserProfile.5.json": ["$.aesthetics.font.size"],
        "UserProfile.7.json": ["$.aesthetics.theme.dark"],
        "UserProfile.9.json": ["$.apiKeys"],
        "UserBetaStatus.1.json": ["$", "$.user"],
        "UserBetaStatus.2.json": ["$.user"],
        "UserBetaStatus.4.json": ["$"],
        "UserBetaStatus.5.json": ["$.schema.migration"],
        "UserBetaStatus.7.json": ["$.auth0"],
        "UserBetaStatus.10.json": ["$.descope.vision.to", "$.descope.vision.to.value"],
    ]

    func testEveryInvalidFixtureIsRefusedWithItsPath() throws {
        let dir = fixturesDir.appendingPathComponent("invalid")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 12)
        // A server that never answers: had anything been sent, the call would time out instead.
        let server = try SilentServer()
        let client = try PiecesClient(config: PiecesConfig(baseURL: server.url, timeoutMs: 2000))
        for name in names {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            let error = piecesError {
                name.hasPrefix("UserProfile") ? try client.updateJSON(text) : try client.betaStatusJSON(text)
            }
            XCTAssertEqual(error?.category, .invalidDocument, name)
            XCTAssertTrue(Self.expectedPath[name]?.contains(error?.path ?? "-") ?? false, "\(name): \(String(describing: error))")
            // The typed models refuse them too: each breaks a required key or a type.
            XCTAssertThrowsError(
                try name.hasPrefix("UserProfile")
                    ? encoded(decoded(UserProfile.self, text)) : encoded(decoded(UserBetaStatus.self, text)), name)
            let fast = piecesError {
                try name.hasPrefix("UserProfile")
                    ? UserProfile(jsonText: text).jsonText() : UserBetaStatus(jsonText: text).jsonText()
            }
            XCTAssertEqual(fast?.category, .invalidDocument, name)
        }
        XCTAssertFalse(server.wasConnected())
    }
}
