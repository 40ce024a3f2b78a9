// A tour of the pieces_user Swift API: every User API route, in the order an application would
// use them, printing each result or error.
//
//     swift run user http://127.0.0.1:39300
//     swift run user              (no URL: discover a running Pieces OS)
//
// `make demo` runs it against the stand-in Pieces OS.
import Foundation
import PiecesUser

/// Prints the outcome of one call: its result, or the error's category and detail.
func report<T>(_ what: String, _ call: () throws -> T) -> T? {
    let label = what.padding(toLength: 38, withPad: " ", startingAt: 0)
    do {
        let result = try call()
        print("\(label) ok: \(result)")
        return result
    } catch let error as PiecesError {
        print("\(label) failed: \(error.category.rawValue) (code \(error.code), HTTP \(error.status.map(String.init) ?? "-"))")
        print("\("".padding(toLength: 38, withPad: " ", startingAt: 0)) detail: \(error.message)")
        return nil
    } catch {
        print("\(label) failed: \(error)")
        return nil
    }
}

func summary(_ user: UserProfile?) -> String {
    guard let user else { return "nobody signed in" }
    return "id=\(user.id) vanity=\(user.vanityname ?? "-") dark=\(user.aesthetics.theme.dark)"
}

let arguments = CommandLine.arguments.dropFirst()
var config = PiecesConfig.discovery
if let url = arguments.first {
    config = PiecesConfig(baseURL: url)
}
config.applicationID = "swift-example"

print("pieces_user \(PiecesClient.libraryVersion)\n")
guard let client = report("PiecesClient(config:)", { try PiecesClient(config: config) }) else { exit(1) }

_ = report("snapshot (GET /user)") { summary(try client.snapshot().user) }
_ = report("refresh (GET /user/refresh)") { summary(try client.refresh()) }

// Models are generated structs with the official key names; this switches on dark mode.
var profile = UserProfile(aesthetics: Aesthetics(font: Font(size: 16), theme: Theme(dark: true)), id: "demo-user")
_ = report("update (POST /user/update)") { summary(try client.update(profile)) }

profile.vanityname = "ada"
_ = report("updateVanity \"ada\"") { summary(try client.updateVanity(profile)) }

// A name someone else has: HTTP 409, thrown as a PiecesError of category .conflict.
profile.vanityname = "taken"
do {
    _ = try client.updateVanity(profile)
} catch let error as PiecesError where error.category == .conflict {
    print("updateVanity \"taken\"".padding(toLength: 38, withPad: " ", startingAt: 0), "conflict: \(error.body ?? "") -> pick another name")
}

// The JSON forms take and return the wire text unchanged; this one is refused before sending.
_ = report("updateJSON with broken JSON") { try client.updateJSON("{\"id\":") }

_ = report("betaStatus (POST /user/beta/status)") { try client.betaStatus(UserBetaStatus(user: "demo-user")).user }

// A local Pieces OS does not implement this route: HTTP 501, category .notImplemented.
_ = report("providers (GET /user/providers)") { try client.providers() }

_ = report("select (POST /user/select)") { summary(try client.select(Auth0User(name: "Ada", userId: "auth0|demo"))) }
_ = report("clear (POST /user/clear)") { try client.clear() }
_ = report("snapshot after clear") { summary(try client.snapshot().user) }
_ = report("streamURL") { try client.streamURL() }

// async/await: the same routes, run off Swift's cooperative thread pool. (Inside an async
// function Swift picks the async overload of a route.)
func asyncTour(_ client: PiecesClient) async {
    do {
        let json = try await client.snapshotJSON()
        print("snapshotJSON (async)".padding(toLength: 38, withPad: " ", startingAt: 0), "ok: \(json)")
    } catch {
        print("snapshotJSON (async) failed: \(error)")
    }
}
await asyncTour(client)
