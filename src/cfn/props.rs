//! Typed resource properties from CloudFormation's all-strings JSON.
//!
//! CloudFormation sends every scalar as a string (`true` arrives as `"true"`), so booleans
//! and numbers accept both forms. Properties structs use `deny_unknown_fields` so a typo in a
//! template fails the deployment instead of being silently ignored.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::{Map, Value};
use std::time::Duration;

/// Properties CloudFormation (or the template author) sets on every custom resource; they
/// belong to the protocol, not to any resource type.
const PROTOCOL_PROPERTIES: [&str; 2] = ["ServiceToken", "ServiceTimeout"];

/// `ServiceTimeout` bounds, per the CloudFormation user guide.
pub const SERVICE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(3600);
const SERVICE_TIMEOUT_MAX_SECS: u64 = 3600;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid ResourceProperties: {0}")]
pub struct PropsError(pub String);

impl PropsError {
    pub fn field(path: &str, problem: impl std::fmt::Display) -> Self {
        Self(format!("{path}: {problem}"))
    }
}

/// Parses resource properties into `T`, naming the offending property path on error.
pub fn parse<T: DeserializeOwned>(raw: &Map<String, Value>) -> Result<T, PropsError> {
    let mut map = raw.clone();
    for key in PROTOCOL_PROPERTIES {
        map.remove(key);
    }
    serde_path_to_error::deserialize::<_, T>(Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        let inner = without_value(&e.into_inner().to_string())
            .replace("unknown field", "unknown property")
            .replace("missing field", "missing required property");
        if path == "." || path.is_empty() {
            PropsError(inner)
        } else {
            PropsError::field(&path, inner)
        }
    })
}

/// serde's message without the value it quotes: `invalid type: string "…", expected a
/// sequence` and `unknown variant `…`, expected one of …` quote what the template gave, and a
/// password given in the wrong place would land in `Reason` (any escaping of it included).
/// What is left names the expected form; the caller adds the property path.
fn without_value(message: &str) -> String {
    const QUOTING: [(&str, &str); 4] = [
        ("invalid type: ", "wrong type"),
        ("invalid value: ", "invalid value"),
        ("invalid length ", "wrong number of items"),
        ("unknown variant ", "unknown value"),
    ];
    for (prefix, what) in QUOTING {
        if message.starts_with(prefix) {
            return match message.rfind(", expected ") {
                Some(i) => format!("{what}{}", &message[i..]),
                None => what.to_owned(),
            };
        }
    }
    message.to_owned()
}

/// `ServiceTimeout` in seconds (1–3600), default 3600.
pub fn service_timeout(raw: &Map<String, Value>) -> Result<Duration, PropsError> {
    let Some(v) = raw.get("ServiceTimeout") else {
        return Ok(SERVICE_TIMEOUT_DEFAULT);
    };
    let secs = match v {
        Value::String(s) => s.trim().parse::<u64>().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    match secs {
        Some(s @ 1..=SERVICE_TIMEOUT_MAX_SECS) => Ok(Duration::from_secs(s)),
        _ => Err(PropsError::field(
            "ServiceTimeout",
            "expected a whole number of seconds from 1 to 3600",
        )),
    }
}

/// What changed between the old and new properties of an Update, compared on the raw JSON so
/// that it works even when the old properties no longer parse (a rollback after an Update that
/// failed because its properties were invalid).
#[derive(Clone, Debug)]
pub struct Diff {
    /// `None`: no old properties to compare with, so everything counts as changed.
    changed: Option<Vec<String>>,
    old: Option<Map<String, Value>>,
}

impl Diff {
    pub fn new(old: Option<&Map<String, Value>>, new: &Map<String, Value>) -> Self {
        let changed = old.map(|old| {
            let mut keys: Vec<String> = old
                .keys()
                .chain(new.keys())
                .filter(|k| old.get(*k) != new.get(*k))
                .cloned()
                .collect();
            keys.sort();
            keys.dedup();
            keys
        });
        Self {
            changed,
            old: old.cloned(),
        }
    }

    /// Everything counts as changed: brings a resource to its template as a whole.
    pub fn all() -> Self {
        Self {
            changed: None,
            old: None,
        }
    }

    /// The old properties, raw: read them leniently (they may no longer parse).
    pub fn old(&self) -> Option<&Map<String, Value>> {
        self.old.as_ref()
    }

    /// Whether any of `keys` differs.
    pub fn changed(&self, keys: &[&str]) -> bool {
        match &self.changed {
            None => true,
            Some(changed) => keys.iter().any(|k| changed.iter().any(|c| c == k)),
        }
    }
}

/// A boolean as CloudFormation sends it (`"true"`), or as a hand-written event might.
pub fn flex_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Str(String),
    }
    let expected = || D::Error::custom("expected \"true\" or \"false\"");
    match B::deserialize(d).map_err(|_| expected())? {
        B::Bool(b) => Ok(b),
        B::Str(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        B::Str(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        B::Str(_) => Err(expected()),
    }
}

pub fn flex_bool_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    flex_bool(d).map(Some)
}

/// A list that a template may also give as a single comma-free string (`Fn::If` results and
/// hand-written events do this); empty strings are dropped.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum L {
        One(String),
        Many(Vec<String>),
    }
    Ok(
        match L::deserialize(d).map_err(|_| D::Error::custom("expected a list of strings"))? {
            L::One(s) => vec![s],
            L::Many(v) => v,
        }
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect(),
    )
}

/// A tag as CloudFormation templates write them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    struct Props {
        user_id: String,
        #[serde(default, deserialize_with = "flex_bool_opt")]
        no_password_required: Option<bool>,
        #[serde(default)]
        #[allow(dead_code)]
        mode: Option<Mode>,
        #[serde(default, deserialize_with = "string_list")]
        user_ids: Vec<String>,
        #[serde(default)]
        tags: Vec<Tag>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    struct Mode {
        #[allow(dead_code)]
        r#type: String,
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn string_booleans_and_protocol_properties_are_accepted() {
        let p: Props = parse(&map(json!({
            "ServiceToken": "arn:aws:lambda:us-east-1:1:function:f",
            "ServiceTimeout": "300",
            "UserId": "u1",
            "NoPasswordRequired": "true",
            "UserIds": ["a", "b"],
            "Tags": [{"Key": "team", "Value": "platform"}]
        })))
        .unwrap();
        assert_eq!(p.user_id, "u1");
        assert_eq!(p.no_password_required, Some(true));
        assert_eq!(p.user_ids, ["a", "b"]);
        assert_eq!(p.tags[0].key, "team");
        let p: Props = parse(&map(json!({"UserId": "u1", "NoPasswordRequired": false}))).unwrap();
        assert_eq!(p.no_password_required, Some(false));
    }

    #[test]
    fn unknown_property_is_named() {
        let e = parse::<Props>(&map(json!({"UserId": "u", "UserNmae": "x"}))).unwrap_err();
        assert!(e.0.contains("unknown property `UserNmae`"), "{e}");
        assert!(e.0.contains("UserId"), "lists the expected ones: {e}");
    }

    #[test]
    fn nested_unknown_property_names_its_path() {
        let e = parse::<Props>(&map(
            json!({"UserId": "u", "Mode": {"Type": "x", "Typo": 1}}),
        ))
        .unwrap_err();
        assert!(e.0.starts_with("Mode.Typo: unknown property `Typo`"), "{e}");
    }

    #[test]
    fn missing_required_property_is_named() {
        let e = parse::<Props>(&map(json!({"NoPasswordRequired": "true"}))).unwrap_err();
        assert!(e.0.contains("missing required property `UserId`"), "{e}");
    }

    #[test]
    fn bad_boolean_names_the_field_and_expected_form() {
        let e =
            parse::<Props>(&map(json!({"UserId": "u", "NoPasswordRequired": "yes"}))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid ResourceProperties: NoPasswordRequired: expected \"true\" or \"false\""
        );
    }

    #[test]
    fn type_errors_name_the_expected_form_never_the_value() {
        for secret in [
            "plain-Secret-1234567",
            "with\"quote\\and-backslash-1",
            "ctl\u{1}\n-é-ünïcødé-12345",
        ] {
            let e = parse::<Props>(&map(json!({"UserId": "u", "UserIds": {"a": secret}})))
                .unwrap_err()
                .to_string();
            assert_eq!(
                e,
                "invalid ResourceProperties: UserIds: expected a list of strings"
            );
            let e = parse::<Props>(&map(json!({"UserId": "u", "Tags": secret})))
                .unwrap_err()
                .to_string();
            assert_eq!(
                e,
                "invalid ResourceProperties: Tags: wrong type, expected a sequence"
            );
            let e = parse::<Props>(&map(json!({"UserId": "u", "NoPasswordRequired": [secret]})))
                .unwrap_err()
                .to_string();
            assert_eq!(
                e,
                "invalid ResourceProperties: NoPasswordRequired: expected \"true\" or \"false\""
            );
        }
    }

    #[test]
    fn service_timeout_parses_and_rejects_out_of_range() {
        assert_eq!(
            service_timeout(&Map::new()).unwrap(),
            SERVICE_TIMEOUT_DEFAULT
        );
        let m = map(json!({"ServiceTimeout": "90"}));
        assert_eq!(service_timeout(&m).unwrap(), Duration::from_secs(90));
        for bad in [json!("0"), json!("3601"), json!("soon"), json!(true)] {
            let m = map(json!({ "ServiceTimeout": bad }));
            assert!(
                service_timeout(&m)
                    .unwrap_err()
                    .0
                    .contains("ServiceTimeout")
            );
        }
    }

    #[test]
    fn diff_compares_raw_values_and_treats_missing_old_as_all_changed() {
        let old = map(json!({"AccessString": "on ~* +@all", "Passwords": ["a"]}));
        let new = map(json!({"AccessString": "on ~* +@all", "Passwords": ["b"]}));
        let d = Diff::new(Some(&old), &new);
        assert!(!d.changed(&["Tags"]), "absent on both sides is unchanged");
        assert!(!d.changed(&["AccessString"]));
        assert!(d.changed(&["Passwords"]));
        assert!(d.changed(&["AccessString", "Passwords"]));
        assert!(Diff::new(None, &new).changed(&["AccessString"]));
    }
}
