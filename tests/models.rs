//! Models and validator against the official SDK's fixtures (../shared/fixtures), plus the edge
//! cases the fixtures do not cover. No network.

use std::path::{Path, PathBuf};

use pieces_user::models::{self, Document};
use pieces_user::schema::{validate, DocumentKind, Violation};
use serde_json::{json, Value};

fn fixtures() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures")).to_path_buf()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn kind_of(file: &str) -> DocumentKind {
    match file.split('.').next().unwrap() {
        "UserProfile" => DocumentKind::UserProfile,
        "ReturnedUserProfile" => DocumentKind::ReturnedUserProfile,
        "Auth0User" => DocumentKind::Auth0User,
        "UserBetaStatus" => DocumentKind::UserBetaStatus,
        other => panic!("no kind for {other}"),
    }
}

const VALID: [&str; 10] = [
    "UserProfile.max.json",
    "UserProfile.min.json",
    "ReturnedUserProfile.max.json",
    "ReturnedUserProfile.min.json",
    "ReturnedUserProfile.user-null.json",
    "ReturnedUserProfile.user-absent.json",
    "Auth0User.max.json",
    "Auth0User.min.json",
    "UserBetaStatus.max.json",
    "UserBetaStatus.min.json",
];

/// Optional keys set to null mean the same as absent ones, and encode drops them as the Python
/// SDK does; `ModelMaxTokens.total` is the one key that keeps its null, and it sits under
/// `maxTokens`.
fn without_optional_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, v)| !v.is_null() || k == "total")
                .map(|(k, v)| (k, without_optional_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(without_optional_nulls).collect())
        }
        other => other,
    }
}

fn round_trip<T: Document>(text: &[u8]) -> (Value, Value) {
    let doc: T = models::decode(text).unwrap_or_else(|v| panic!("decode: {v}"));
    let encoded = models::encode(&doc);
    let again: Value = serde_json::from_str(&encoded).unwrap();
    let original: Value = serde_json::from_slice(text).unwrap();
    (without_optional_nulls(original), again)
}

fn round_trip_kind(kind: DocumentKind, text: &[u8]) -> (Value, Value) {
    match kind {
        DocumentKind::UserProfile => round_trip::<models::UserProfile>(text),
        DocumentKind::ReturnedUserProfile => round_trip::<models::ReturnedUserProfile>(text),
        DocumentKind::Auth0User => round_trip::<models::Auth0User>(text),
        DocumentKind::UserBetaStatus => round_trip::<models::UserBetaStatus>(text),
    }
}

#[test]
fn valid_fixtures_pass_decode_and_round_trip_losslessly() {
    for name in VALID {
        let text = fixture(name);
        let kind = kind_of(name);
        if let Err(v) = validate(kind, &text) {
            panic!("{name}: {v:?}");
        }
        let (original, again) = round_trip_kind(kind, &text);
        assert_eq!(original, again, "{name} changed through decode/encode");
    }
}

#[test]
fn compact_fixtures_pass_too() {
    for name in VALID {
        let value: Value = serde_json::from_slice(&fixture(name)).unwrap();
        let compact = serde_json::to_vec(&value).unwrap();
        assert_eq!(validate(kind_of(name), &compact), Ok(()), "{name}");
    }
}

#[test]
fn every_fixture_kind_is_rejected_as_another_kind_where_it_must_be() {
    // A profile is not a beta status (no `user` string) and vice versa (no `id`/`aesthetics`).
    let profile = fixture("UserProfile.max.json");
    assert!(validate(DocumentKind::UserBetaStatus, &profile).is_err());
    let beta = fixture("UserBetaStatus.max.json");
    assert!(validate(DocumentKind::UserProfile, &beta).is_err());
}

#[test]
fn no_user_is_none_in_both_forms() {
    for name in [
        "ReturnedUserProfile.user-null.json",
        "ReturnedUserProfile.user-absent.json",
    ] {
        let doc: models::ReturnedUserProfile = models::decode(&fixture(name)).unwrap();
        assert!(doc.user().is_none(), "{name}");
    }
    let doc: models::ReturnedUserProfile =
        models::decode(&fixture("ReturnedUserProfile.max.json")).unwrap();
    let user = doc.user().expect("max has a user");
    assert_eq!(user.id, "2667d2bb-87be-51c0-a859-d7c1ea154eb0");
}

/// Each case of fixtures/README.md, `invalid/` section: the file and the path it must name.
const INVALID: [(&str, &str, &str); 12] = [
    ("UserProfile.1.json", "$.id", "missing required key \"id\""),
    (
        "UserProfile.2.json",
        "$.aesthetics",
        "missing required key \"aesthetics\"",
    ),
    (
        "UserProfile.3.json",
        "$.id",
        "expected a string, found integer 12345",
    ),
    (
        "UserProfile.5.json",
        "$.aesthetics.font.size",
        "expected an integer, found string \"14\"",
    ),
    (
        "UserProfile.7.json",
        "$.aesthetics.theme.dark",
        "expected a boolean, found string \"true\"",
    ),
    (
        "UserProfile.9.json",
        "$.apiKeys",
        "expected an array, found string \"pk_live_4f3c9a1e0b7d4c2a\"",
    ),
    (
        "UserBetaStatus.1.json",
        "$.user",
        "missing required key \"user\"",
    ),
    (
        "UserBetaStatus.2.json",
        "$.user",
        "expected a string, found integer 42",
    ),
    (
        "UserBetaStatus.4.json",
        "$",
        "expected an object (UserBetaStatus), found an array",
    ),
    (
        "UserBetaStatus.5.json",
        "$.schema.migration",
        "expected an integer, found string \"0\"",
    ),
    (
        "UserBetaStatus.7.json",
        "$.auth0",
        "expected an object (Auth0UserBetaStatus), found string \"enabled\"",
    ),
    (
        "UserBetaStatus.10.json",
        "$.descope.vision.to.value",
        "missing required key \"value\"",
    ),
];

#[test]
fn invalid_fixtures_are_rejected_at_the_readme_path() {
    let listed: Vec<&str> = INVALID.iter().map(|c| c.0).collect();
    for entry in std::fs::read_dir(fixtures().join("invalid")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(listed.contains(&name.as_str()), "{name} has no expectation");
    }
    for (name, path, message) in INVALID {
        let text = fixture(&format!("invalid/{name}"));
        let got = validate(kind_of(name), &text).expect_err(name);
        let want = Violation {
            syntax: false,
            path: path.to_owned(),
            message: message.to_owned(),
        };
        assert_eq!(got, want, "{name}");
        let decoded = match kind_of(name) {
            DocumentKind::UserProfile => models::decode::<models::UserProfile>(&text).map(drop),
            _ => models::decode::<models::UserBetaStatus>(&text).map(drop),
        };
        assert_eq!(decoded, Err(want), "{name} through decode");
    }
}

// ---------------------------------------------------------------- targeted cases

fn min_profile() -> Value {
    serde_json::from_slice(&fixture("UserProfile.min.json")).unwrap()
}

fn check(kind: DocumentKind, doc: &Value) -> Result<(), Violation> {
    validate(kind, doc.to_string().as_bytes())
}

fn violation_at(kind: DocumentKind, doc: &Value) -> (String, String) {
    let v = check(kind, doc).expect_err("must be rejected");
    assert!(!v.syntax, "{v:?}");
    (v.path, v.message)
}

#[test]
fn unknown_keys_survive_at_every_level() {
    let mut doc = min_profile();
    doc["futureTopLevel"] = json!({"a": [1, 2, {"b": null}]});
    doc["aesthetics"]["font"]["weight"] = json!(700);
    doc["aesthetics"]["theme"]["accent"] = json!("#ff00aa");
    doc["providers"] = json!({"iterable": [{
        "created": {"value": "2024-03-14T09:26:53.589Z", "tz": "UTC"},
        "updated": {"value": "2024-03-14T09:26:53.589Z"},
        "type": "github",
        "user_id": "42",
        "avatar": {"size": 3.5}
    }]});
    let text = doc.to_string();
    let decoded: models::UserProfile = models::decode(text.as_bytes()).unwrap();
    assert_eq!(decoded.aesthetics.font.extra["weight"], json!(700));
    assert_eq!(
        decoded.providers.as_ref().unwrap().iterable[0]
            .created
            .extra["tz"],
        "UTC"
    );
    let again: Value = serde_json::from_str(&models::encode(&decoded)).unwrap();
    assert_eq!(again, doc);
}

#[test]
fn unknown_enum_values_are_kept_and_written_back() {
    let doc = json!({
        "user": {
            "aesthetics": {"font": {"size": 14}, "theme": {"dark": true}},
            "id": "u1",
            "allocation": {
                "id": "u1", "project": "p", "user": "u1",
                "status": {"cloud": "WARP_SPEED"},
                "urls": {
                    "base": {"status": "RUNNING", "url": "https://a"},
                    "id": {"status": "running", "url": "https://b"}
                }
            }
        }
    });
    let text = doc.to_string();
    let decoded: models::ReturnedUserProfile = models::decode(text.as_bytes()).unwrap();
    let allocation = decoded.user().unwrap().allocation.as_ref().unwrap();
    assert_eq!(
        allocation.status.cloud,
        models::AllocationStatusEnum::Other("WARP_SPEED".into())
    );
    assert_eq!(
        allocation.urls.base.status,
        models::AllocationStatusEnum::Running
    );
    assert_eq!(allocation.urls.id.status.as_str(), "running");
    let again: Value = serde_json::from_str(&models::encode(&decoded)).unwrap();
    assert_eq!(again, doc);
}

#[test]
fn enum_variants_map_odd_wire_values() {
    use models::{ExternalProviderTypeEnum as P, ModelFoundationEnum as F};
    assert_eq!(F::from_wire("GPT_3.5"), F::Gpt3_5);
    assert_eq!(F::CommandRPlus.as_str(), "COMMAND_R+");
    assert_eq!(F::from_wire("MIXTRAL_8_x_7B"), F::Mixtral8X7B);
    assert_eq!(P::from_wire("google-oauth2"), P::GoogleOauth2);
    assert_eq!(P::UsernameEmail.as_str(), "username_email");
}

#[test]
fn non_string_enum_is_rejected() {
    let doc = json!({"user": "u1", "schema": {"migration": 0, "semantic": 1}});
    let (path, message) = violation_at(DocumentKind::UserBetaStatus, &doc);
    assert_eq!(path, "$.schema.semantic");
    assert_eq!(
        message,
        "expected a string (EmbeddedModelSchemaSemanticVersionEnum), found integer 1"
    );
}

#[test]
fn integers_are_strict() {
    let mut doc = min_profile();
    doc["aesthetics"]["font"]["size"] = json!(14.0);
    let (path, message) = violation_at(DocumentKind::UserProfile, &doc);
    assert_eq!(path, "$.aesthetics.font.size");
    assert_eq!(message, "expected an integer, found number 14.0");
    let text = br#"{"aesthetics":{"font":{"size":14e0},"theme":{"dark":true}},"id":"x"}"#;
    assert!(validate(DocumentKind::UserProfile, text).is_err());
    let huge =
        br#"{"aesthetics":{"font":{"size":18446744073709551615},"theme":{"dark":true}},"id":"x"}"#;
    let v = validate(DocumentKind::UserProfile, huge).unwrap_err();
    assert_eq!(v.path, "$.aesthetics.font.size");
    let negative = br#"{"aesthetics":{"font":{"size":-3},"theme":{"dark":true}},"id":"x"}"#;
    assert_eq!(validate(DocumentKind::UserProfile, negative), Ok(()));
}

#[test]
fn numbers_accept_integers_and_fractions() {
    let tokens = |total: Value| {
        json!({"user": {
            "aesthetics": {"font": {"size": 14}, "theme": {"dark": true}},
            "id": "u1",
            "entities": {"iterable": [{"id": "e1", "reference": {
                "id": "e1", "name": "Org", "type": "ORGANIZATION",
                "created": {"value": "2024-03-14T09:26:53.589Z"},
                "updated": {"value": "2024-03-14T09:26:53.589Z"},
                "configuration": {"externalProvider": {"allowedCloudModels": {
                    "enabled": "ENABLED",
                    "allowedModels": {"iterable": [
                        {"unique": "gpt", "maxTokens": total}
                    ]}
                }}}
            }}]}
        }})
    };
    let kind = DocumentKind::ReturnedUserProfile;
    for ok in [
        json!({"total": 128000}),
        json!({"total": 1.5e3, "input": null}),
        json!({"total": null}),
    ] {
        let doc = tokens(ok);
        assert_eq!(check(kind, &doc), Ok(()), "{doc}");
        let (original, again) = round_trip_kind(kind, doc.to_string().as_bytes());
        assert_eq!(original, again);
    }
    let (path, message) = violation_at(kind, &tokens(json!({"input": 5})));
    assert_eq!(
        path,
        "$.user.entities.iterable[0].reference.configuration.externalProvider\
         .allowedCloudModels.allowedModels.iterable[0].maxTokens.total"
    );
    assert_eq!(message, "missing required key \"total\"");
    let (path, _) = violation_at(kind, &tokens(json!({"total": "1"})));
    assert!(path.ends_with(".maxTokens.total"), "{path}");
}

#[test]
fn required_keys_must_not_be_null_but_optional_ones_may() {
    let mut doc = min_profile();
    doc["name"] = Value::Null;
    doc["allocation"] = Value::Null;
    assert_eq!(check(DocumentKind::UserProfile, &doc), Ok(()));
    doc["id"] = Value::Null;
    let (path, message) = violation_at(DocumentKind::UserProfile, &doc);
    assert_eq!(
        (path.as_str(), message.as_str()),
        ("$.id", "expected a string, found null")
    );
}

#[test]
fn date_times_follow_rfc_3339() {
    let beta = |value: &str| json!({"user": "u1", "auth0": {"vision": {"from": {"value": value}}}});
    for ok in [
        "2024-03-14T09:26:53.589000+00:00",
        "2024-03-14T09:26:53.589Z",
        "2024-03-14T09:26:53",
        "2024-03-14 09:26:53-07:00",
        "2024-02-29T00:00:00Z",
    ] {
        assert_eq!(
            check(DocumentKind::UserBetaStatus, &beta(ok)),
            Ok(()),
            "{ok}"
        );
        let decoded: models::UserBetaStatus =
            models::decode(beta(ok).to_string().as_bytes()).unwrap();
        let from = decoded.auth0.unwrap().vision.unwrap().from.unwrap();
        assert_eq!(from.value.as_str(), ok);
    }
    for bad in [
        "2023-02-29T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-03-14T24:00:00Z",
        "tomorrow",
        "1710408413",
    ] {
        let (path, message) = violation_at(DocumentKind::UserBetaStatus, &beta(bad));
        assert_eq!(path, "$.auth0.vision.from.value", "{bad}");
        assert!(message.starts_with("expected an RFC 3339 date-time string, found string"));
    }
    let (path, _) = violation_at(DocumentKind::Auth0User, &json!({"last_login": true}));
    assert_eq!(path, "$.last_login");
    assert!(models::DateTime::parse("2024-02-29T00:00:00Z").is_some());
    assert!(models::DateTime::parse("2023-02-29T00:00:00Z").is_none());
}

#[test]
fn long_found_values_are_cut_in_messages() {
    let secret = "s".repeat(500);
    let (_, message) = violation_at(DocumentKind::UserBetaStatus, &json!({"user": [secret]}));
    assert_eq!(message, "expected a string, found an array");
    let mut doc = min_profile();
    doc["aesthetics"]["font"]["size"] = json!("k".repeat(500));
    let (_, message) = violation_at(DocumentKind::UserProfile, &doc);
    assert!(message.len() < 100, "{message}");
    assert!(message.ends_with('…'), "{message}");
}

#[test]
fn odd_keys_are_quoted_in_paths() {
    let doc = json!({"user": {
        "aesthetics": {"font": {"size": 14}, "theme": {"dark": true}},
        "id": "u1",
        "entities": {"iterable": [], "indices": {"weird key": 1, "ok": "two"}}
    }});
    let (path, _) = violation_at(DocumentKind::ReturnedUserProfile, &doc);
    assert_eq!(path, "$.user.entities.indices.ok");
    let doc = json!({"user": {
        "aesthetics": {"font": {"size": 14}, "theme": {"dark": true}},
        "id": "u1",
        "entities": {"iterable": [], "indices": {"weird key": "1"}}
    }});
    let (path, _) = violation_at(DocumentKind::ReturnedUserProfile, &doc);
    assert_eq!(path, r#"$.user.entities.indices["weird key"]"#);
}

#[test]
fn array_elements_are_checked_with_their_index() {
    let mut doc = min_profile();
    doc["providers"] = json!({"iterable": [
        {"created": {"value": "2024-03-14T09:26:53Z"}, "updated": {"value": "2024-03-14T09:26:53Z"},
         "type": "github", "user_id": "1"},
        {"created": {"value": "2024-03-14T09:26:53Z"}, "updated": {"value": "2024-03-14T09:26:53Z"},
         "type": "github", "user_id": "2"},
        {"created": {"value": "2024-03-14T09:26:53Z"}, "updated": {"value": "2024-03-14T09:26:53Z"},
         "type": 7, "user_id": "3"}
    ]});
    let (path, _) = violation_at(DocumentKind::UserProfile, &doc);
    assert_eq!(path, "$.providers.iterable[2].type");
    doc["apiKeys"] = json!(["a", null]);
    doc["providers"] = Value::Null;
    let (path, message) = violation_at(DocumentKind::UserProfile, &doc);
    assert_eq!(
        (path.as_str(), message.as_str()),
        ("$.apiKeys[1]", "expected a string, found null")
    );
}

#[test]
fn escaped_keys_are_recognised() {
    let text = br#"{"\u0069d":"x","aesthetics":{"font":{"si\u007ae":14},"theme":{"dark":true}},"we\"ird":1}"#;
    assert_eq!(validate(DocumentKind::UserProfile, text), Ok(()));
    let text =
        br#"{"id":"x","aesthetics":{"font":{"size":14},"theme":{"dark":true}},"we\"ird":[1,}"#;
    let v = validate(DocumentKind::UserProfile, text).unwrap_err();
    assert!(v.syntax);
    assert_eq!(v.path, r#"$["we\"ird"]"#);
}

#[test]
fn text_that_is_not_utf8_is_a_syntax_error() {
    for text in [
        &br#"{"user":"u","\ud800":1}"#[..],
        b"{\"user\":\"u\",\"\xff\":1}",
        b"{\"user\":\"\xc3\x28\"}",
        br#"{"user":"\udc00"}"#,
    ] {
        let v = validate(DocumentKind::UserBetaStatus, text).unwrap_err();
        assert!(v.syntax, "{}: {v:?}", String::from_utf8_lossy(text));
    }
    let text = "{\"user\":\"ü\",\"ключ\":\"✓\"}";
    assert_eq!(
        validate(DocumentKind::UserBetaStatus, text.as_bytes()),
        Ok(())
    );
}

#[test]
fn duplicate_known_keys_are_rejected() {
    let text = br#"{"id":"a","aesthetics":{"font":{"size":14},"theme":{"dark":true}},"id":"b"}"#;
    let v = validate(DocumentKind::UserProfile, text).unwrap_err();
    assert_eq!(
        v,
        Violation {
            syntax: false,
            path: "$.id".into(),
            message: "duplicate key \"id\"".into()
        }
    );
    let text = br#"{"user":"u","x":1,"x":2}"#;
    assert_eq!(validate(DocumentKind::UserBetaStatus, text), Ok(()));
}

#[test]
fn syntax_errors_are_reported_as_such() {
    for text in [
        &b""[..],
        b"{",
        br#"{"user":"u"} x"#,
        br#"{"user":"u"}{}"#,
        br#"{"user":"u",}"#,
        br#"{"user":"u" "auth0":{}}"#,
        b"nul",
    ] {
        let v = validate(DocumentKind::UserBetaStatus, text).unwrap_err();
        assert!(v.syntax, "{}: {v:?}", String::from_utf8_lossy(text));
        assert!(v.message.contains("line"), "{v:?}");
    }
    let text = br#"{"user":"u","auth0":{"vision":{"from":{"value":"2024-03-14T09:26:53Z",]}}}"#;
    let v = validate(DocumentKind::UserBetaStatus, text).unwrap_err();
    assert!(v.syntax);
    assert_eq!(v.path, "$.auth0.vision.from");
}

#[test]
fn syntax_errors_after_a_violation_win() {
    // The text is read to its end even once a value is wrong, so broken JSON is always reported
    // as broken JSON.
    let v = validate(DocumentKind::UserBetaStatus, br#"{"user":5,"auth0":{]}"#).unwrap_err();
    assert!(v.syntax, "{v:?}");
    let v = validate(DocumentKind::UserBetaStatus, br#"{"user":5} trailing"#).unwrap_err();
    assert!(v.syntax, "{v:?}");
    let v = validate(DocumentKind::UserBetaStatus, br#"{"user":5,"auth0":{}}"#).unwrap_err();
    assert!(!v.syntax, "{v:?}");
}

fn nested_arrays(depth: usize) -> Vec<u8> {
    let mut text = vec![b'['; depth];
    text.extend(std::iter::repeat_n(b']', depth));
    text
}

#[test]
fn deep_nesting_is_a_syntax_error_not_a_stack_overflow() {
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let deep = nested_arrays(100_000);
            let mut results = vec![];
            for kind in [DocumentKind::UserProfile, DocumentKind::UserBetaStatus] {
                results.push(validate(kind, &deep));
            }
            let mut in_field = br#"{"user":"u","auth0":"#.to_vec();
            in_field.extend(nested_arrays(100_000));
            in_field.push(b'}');
            results.push(validate(DocumentKind::UserBetaStatus, &in_field));
            let mut profile = br#"{"id":"x","apiKeys":"#.to_vec();
            profile.extend(nested_arrays(100_000));
            profile.push(b'}');
            results.push(validate(DocumentKind::UserProfile, &profile));
            results.push(models::decode::<models::UserBetaStatus>(&deep).map(drop));
            results
        })
        .unwrap();
    for result in worker.join().expect("no stack overflow") {
        let v = result.unwrap_err();
        assert!(v.syntax, "{v:?}");
        assert!(v.message.contains("recursion limit"), "{v:?}");
    }
}

#[test]
fn deep_unknown_values_are_skipped_by_validate_and_refused_by_decode() {
    // serde_json skips ignored values without recursing, so the validator accepts any depth
    // there; building `extra` does recurse, so decode reports the depth as a syntax error.
    let mut text = br#"{"user":"u","future":"#.to_vec();
    text.extend(nested_arrays(1000));
    text.push(b'}');
    assert_eq!(validate(DocumentKind::UserBetaStatus, &text), Ok(()));
    let v = models::decode::<models::UserBetaStatus>(&text).unwrap_err();
    assert!(v.syntax, "{v:?}");
}

#[test]
fn generated_files_match_the_schemas() {
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("python3")
        .arg(format!("{crate_dir}/tools/gen_models.py"))
        .arg("--check")
        .current_dir(crate_dir)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "generated files are stale: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn decode_never_fails_after_validate_on_fixtures() {
    for name in VALID {
        let text = fixture(name);
        let result = match kind_of(name) {
            DocumentKind::UserProfile => models::decode::<models::UserProfile>(&text).map(drop),
            DocumentKind::ReturnedUserProfile => {
                models::decode::<models::ReturnedUserProfile>(&text).map(drop)
            }
            DocumentKind::Auth0User => models::decode::<models::Auth0User>(&text).map(drop),
            DocumentKind::UserBetaStatus => {
                models::decode::<models::UserBetaStatus>(&text).map(drop)
            }
        };
        assert_eq!(result, Ok(()), "{name}");
    }
}

#[test]
fn beta_status_can_be_built_with_now() {
    let status = models::UserBetaStatus {
        user: "u1".into(),
        auth0: Some(models::Auth0UserBetaStatus {
            vision: Some(models::AnonymousTemporalRange {
                to: Some(models::GroupedTimestamp {
                    value: models::DateTime::now(),
                    readable: None,
                    schema: None,
                    extra: Default::default(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        descope: None,
        schema: None,
        extra: Default::default(),
    };
    let text = models::encode(&status);
    assert_eq!(
        validate(DocumentKind::UserBetaStatus, text.as_bytes()),
        Ok(())
    );
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn validator_timing() {
    let value: Value = serde_json::from_slice(&fixture("UserProfile.max.json")).unwrap();
    let compact = serde_json::to_vec(&value).unwrap();
    let rounds = 20_000;
    for _ in 0..1000 {
        validate(DocumentKind::UserProfile, &compact).unwrap();
    }
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        validate(DocumentKind::UserProfile, std::hint::black_box(&compact)).unwrap();
    }
    let per = start.elapsed() / rounds;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        serde_json::from_slice::<serde::de::IgnoredAny>(std::hint::black_box(&compact)).unwrap();
    }
    let skip = start.elapsed() / rounds;
    let start = std::time::Instant::now();
    for _ in 0..2000 {
        models::decode::<models::UserProfile>(std::hint::black_box(&compact)).unwrap();
    }
    let decode = start.elapsed() / 2000;
    println!(
        "UserProfile.max.json compact ({} bytes): validate {per:?}, serde_json IgnoredAny {skip:?}, decode {decode:?}",
        compact.len()
    );
}

/// The best of several batches, per call: other work on the machine only ever adds time.
fn best_per_call(rounds: u32, mut f: impl FnMut()) -> std::time::Duration {
    (0..15)
        .map(|_| {
            let start = std::time::Instant::now();
            for _ in 0..rounds {
                f();
            }
            start.elapsed() / rounds
        })
        .min()
        .unwrap()
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn validator_timing_by_size() {
    let profile: Value = serde_json::from_slice(&fixture("UserProfile.max.json")).unwrap();
    let bench = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/profile-3k.json");
    let small: Value = serde_json::from_slice(&std::fs::read(bench).unwrap()).unwrap();
    for (name, value) in [
        ("UserProfile.max.json", profile),
        ("profile-3k.json", small),
    ] {
        let text = serde_json::to_vec(&value).unwrap();
        let rounds = (3_000_000 / text.len()) as u32;
        let validate_t = best_per_call(rounds, || {
            validate(DocumentKind::UserProfile, std::hint::black_box(&text)).unwrap()
        });
        let skip_t = best_per_call(rounds, || {
            serde_json::from_slice::<serde::de::IgnoredAny>(std::hint::black_box(&text)).unwrap();
        });
        let decode_t = best_per_call(rounds / 5, || {
            models::decode::<models::UserProfile>(std::hint::black_box(&text)).unwrap();
        });
        let rate = text.len() as f64 / validate_t.as_secs_f64() / 1e9;
        println!(
            "{name} compact ({} bytes): validate {validate_t:?} ({rate:.2} GB/s), serde_json IgnoredAny {skip_t:?}, decode {decode_t:?}",
            text.len()
        );
    }
}

/// A minimal profile with `font_size` as the text of `aesthetics.font.size` and `extra` members.
fn profile_with_size(font_size: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"u"{extra},"aesthetics":{{"font":{{"size":{font_size}}},"theme":{{"dark":true}}}}}}"#
    )
}

#[test]
fn a_lone_surrogate_escape_is_refused_in_every_string_read_or_skipped() {
    for doc in [
        r#"{"id":"\ud800","aesthetics":{"font":{"size":1},"theme":{"dark":true}}}"#.to_string(),
        profile_with_size("1", r#","x":"\ud800""#),
        profile_with_size("1", r#","x":["a\udc00"]"#),
        profile_with_size("1", r#","x":{"\ud800":1}"#),
        profile_with_size("1", r#","\udbff":1"#),
        profile_with_size("1", r#","x":"\ud800\u0041""#),
    ] {
        let v = validate(DocumentKind::UserProfile, doc.as_bytes()).unwrap_err();
        assert!(v.syntax, "{doc}: {v}");
        assert!(v.message.contains("surrogate pair"), "{doc}: {v}");
    }
    // A pair is one character, wherever it is.
    let paired = profile_with_size("1", r#","x":"\ud83d\ude00""#);
    validate(DocumentKind::UserProfile, paired.as_bytes()).unwrap();
}

#[test]
fn minus_zero_is_an_integer() {
    for size in ["-0", "0", "-1"] {
        let doc = profile_with_size(size, "");
        validate(DocumentKind::UserProfile, doc.as_bytes())
            .unwrap_or_else(|v| panic!("{size}: {v}"));
    }
    // A fraction or an exponent makes a float, which an integer field refuses.
    for size in ["-0.0", "0e0"] {
        let doc = profile_with_size(size, "");
        let v = validate(DocumentKind::UserProfile, doc.as_bytes()).unwrap_err();
        assert!(
            !v.syntax && v.path == "$.aesthetics.font.size",
            "{size}: {v}"
        );
    }
}

/// The typed models agree with the validator: `-0` in an integer field decodes (as 0) instead of
/// failing as serde_json's float `-0.0`; a real float is still refused before serde sees it.
#[test]
fn minus_zero_decodes_into_the_typed_models() {
    let profile: models::UserProfile = models::decode(profile_with_size("-0", "").as_bytes())
        .unwrap_or_else(|v| panic!("-0: {v}"));
    assert_eq!(profile.aesthetics.font.size, 0);
    let err =
        models::decode::<models::UserProfile>(profile_with_size("0.5", "").as_bytes()).unwrap_err();
    assert_eq!(err.path, "$.aesthetics.font.size", "{err}");
}

#[test]
fn a_number_out_of_range_is_valid_json_and_reported_at_its_path() {
    let digits = "9".repeat(400);
    for size in ["1e309", "-1e400", digits.as_str()] {
        let doc = profile_with_size(size, "");
        assert!(serde_json::from_str::<serde::de::IgnoredAny>(&doc).is_ok());
        let v = validate(DocumentKind::UserProfile, doc.as_bytes()).unwrap_err();
        assert!(!v.syntax, "{size}: not a syntax error: {v}");
        assert_eq!(v.path, "$.aesthetics.font.size", "{size}: {v}");
        assert!(v.message.contains("out of the range"), "{size}: {v}");
        assert!(v.message.len() < 200, "{}", v.message.len());
    }
}
