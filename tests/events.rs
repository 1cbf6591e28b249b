//! The sample events users invoke (`events/**/*.json`, the same files `cargo lambda invoke
//! --data-file` takes) are what the function expects: each is classified by the dispatcher as
//! the kind its folder says, and each custom-resource event's properties parse and validate
//! with the resource type it names. No AWS call is made (the clients point nowhere).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use userkeeper::aws::Secrets;
use userkeeper::cfn::Provider;
use userkeeper::cfn::responder::Responder;
use userkeeper::dispatch::{Event, classify};
use userkeeper::login::Login;
use userkeeper::rotation::{Rotators, Step};
use userkeeper::services::{Registry, Shared, register_all};

fn event_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("events/ is readable") {
        let path = entry.unwrap().path();
        if path.is_dir() {
            event_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// Every service registered, as `main` does, with clients that are never called.
fn provider() -> Provider {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    let secrets = Secrets::new(aws_sdk_secretsmanager::Client::new(&sdk));
    let login = Arc::new(Login::from_env());
    let mut provider = Provider::new(Responder::new().unwrap());
    let mut rotators = Rotators::default();
    register_all(
        &mut Registry {
            provider: &mut provider,
            rotators: &mut rotators,
        },
        &Shared {
            sdk: &sdk,
            secrets: &secrets,
            login: &login,
        },
    );
    provider
}

#[test]
fn every_sample_event_is_one_the_function_accepts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut files = Vec::new();
    event_files(&root, &mut files);
    files.sort();
    let provider = provider();
    let types: Vec<_> = provider.resource_types().collect();
    let (mut custom, mut rotation) = (Vec::new(), Vec::new());
    for file in &files {
        let name = file.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
        match classify(value).unwrap_or_else(|e| panic!("{name}: {e}")) {
            Event::CustomResource(req) => {
                assert!(!name.starts_with("rotation"), "{name}: in rotation/");
                provider
                    .check(&req)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                // Every scalar a string, as CloudFormation sends them.
                for (key, v) in &req.resource_properties {
                    assert!(
                        !v.is_number() && !v.is_boolean(),
                        "{name}: {key} is not a string"
                    );
                }
                custom.push(req.resource_type.clone());
            }
            Event::Rotation(ev) => {
                assert!(name.starts_with("rotation"), "{name}: outside rotation/");
                let step = Step::parse(&ev.step).unwrap_or_else(|| panic!("{name}: step"));
                assert_eq!(
                    format!("{}.json", step.as_str()),
                    file.file_name().unwrap().to_str().unwrap()
                );
                rotation.push(step);
            }
        }
    }
    // One file per resource type and request type; one per rotation step.
    for t in &types {
        let n = custom.iter().filter(|c| c == t).count();
        assert!(
            n >= 4,
            "{t}: {n} sample events, expected Create/Update/replace/Delete"
        );
    }
    assert_eq!(custom.len(), types.len() * 4 + 1, "{custom:?}");
    assert_eq!(rotation.len(), 4, "{rotation:?}");
}

#[test]
fn a_broken_event_is_caught_by_the_same_check() {
    let provider = provider();
    let mut value: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("events/elasticache-user-create.json"),
        )
        .unwrap(),
    )
    .unwrap();
    value["ResourceProperties"]["UserNmae"] = "typo".into();
    let Event::CustomResource(req) = classify(value).unwrap() else {
        panic!("classified as rotation")
    };
    let e = provider.check(&req).unwrap_err();
    assert!(e.contains("unknown property `UserNmae`"), "{e}");
}
