//! The response body, shaped to the protocol's limits. Pure: no I/O.

use serde::Serialize;
use serde_json::{Map, Value};

/// CloudFormation rejects a larger body with "Response object is too long".
pub const MAX_BODY_BYTES: usize = 4096;
const ELLIPSIS: &str = "…";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Success,
    Failed,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    /// Never serialised as `null`: stacks were seen to hang on a null Reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_echo: bool,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
}

/// Control characters break `DescribeStackEvents` (an ESC byte was seen to); newlines and
/// tabs are folded to spaces so multi-line errors stay readable on one line.
pub fn sanitize_reason(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut last_space = false;
    for c in reason.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
    }
    out.trim().to_owned()
}

impl Response {
    /// The body to PUT: JSON of at most [`MAX_BODY_BYTES`] bytes (UTF-8 bytes, not chars).
    ///
    /// `Reason` is shortened first. If the body is still too long because of `Data`, the
    /// response becomes FAILED with a reason that says so: a SUCCESS without the promised
    /// attributes would break `Fn::GetAtt` later, far from the cause.
    pub fn render(mut self) -> Vec<u8> {
        if let Some(r) = self.reason.take() {
            self.reason = Some(sanitize_reason(&r));
        }
        if self.status == Status::Failed && self.reason.as_deref().is_none_or(str::is_empty) {
            self.reason = Some("failed without a reason; see the function's logs".into());
        }
        let body = to_json(&self);
        if body.len() <= MAX_BODY_BYTES {
            return body;
        }
        if let Some(body) = self.clone().shorten_reason_to_fit() {
            return body;
        }
        let data_bytes = to_json(&self.data).len();
        let failed = Response {
            status: Status::Failed,
            reason: Some(format!(
                "the response Data is {data_bytes} bytes, too large for CloudFormation's \
                 {MAX_BODY_BYTES}-byte response limit; use fewer or shorter attributes"
            )),
            no_echo: false,
            data: Map::new(),
            ..self
        };
        failed
            .clone()
            .shorten_reason_to_fit()
            .unwrap_or_else(|| to_json(&failed))
    }

    /// Cuts `Reason` (on a char boundary, marked with an ellipsis) to the longest prefix that
    /// keeps the body within the limit; `None` if even an empty reason does not fit.
    fn shorten_reason_to_fit(mut self) -> Option<Vec<u8>> {
        let full = self.reason.take().unwrap_or_default();
        let with = |n: usize, r: &mut Response| {
            r.reason = Some(if n >= full.chars().count() {
                full.clone()
            } else {
                let cut: String = full.chars().take(n).collect();
                format!("{}{ELLIPSIS}", cut.trim_end())
            });
            to_json(r)
        };
        // JSON escaping makes the byte size of a prefix non-linear in its length: binary
        // search on the char count for the largest prefix that fits.
        let (mut lo, mut hi) = (0usize, full.chars().count());
        if with(lo, &mut self).len() > MAX_BODY_BYTES {
            return None;
        }
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if with(mid, &mut self).len() <= MAX_BODY_BYTES {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Some(with(lo, &mut self))
    }
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising maps of strings and plain structs cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(status: Status, reason: Option<&str>) -> Response {
        Response {
            status,
            reason: reason.map(str::to_owned),
            physical_resource_id: "app-user".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1".into(),
            request_id: "req-1".into(),
            logical_resource_id: "AppUser".into(),
            no_echo: false,
            data: Map::new(),
        }
    }

    fn parse(body: &[u8]) -> Value {
        serde_json::from_slice(body).unwrap()
    }

    #[test]
    fn success_omits_reason_and_never_sends_null() {
        let body = response(Status::Success, None).render();
        let v = parse(&body);
        assert_eq!(v["Status"], "SUCCESS");
        assert!(v.get("Reason").is_none());
        assert!(!String::from_utf8(body).unwrap().contains("null"));
    }

    #[test]
    fn failed_always_has_a_reason() {
        let v = parse(&response(Status::Failed, None).render());
        assert_eq!(v["Status"], "FAILED");
        assert!(v["Reason"].as_str().unwrap().contains("logs"));
    }

    #[test]
    fn control_characters_are_stripped() {
        let v = parse(&response(Status::Failed, Some("bad\u{1b}[31m\nthing\t\u{0}")).render());
        assert_eq!(v["Reason"], "bad [31m thing");
    }

    #[test]
    fn long_multibyte_reason_is_cut_to_4096_bytes_on_a_char_boundary() {
        let reason = "é\"".repeat(3000); // 2 bytes + an escaped quote each: far over the limit
        let body = response(Status::Failed, Some(&reason)).render();
        assert!(body.len() <= MAX_BODY_BYTES, "{}", body.len());
        assert!(
            body.len() > MAX_BODY_BYTES - 8,
            "cut too much: {}",
            body.len()
        );
        let v = parse(&body);
        let r = v["Reason"].as_str().unwrap();
        assert!(r.ends_with(ELLIPSIS));
        assert!(r.starts_with("é\"é"));
    }

    #[test]
    fn body_exactly_at_the_limit_is_kept_whole() {
        let base = response(Status::Failed, Some("")).render().len();
        // "x" adds one byte each: fill to exactly 4096 (the empty reason becomes the default).
        let empty_len = to_json(&Response {
            reason: Some(String::new()),
            ..response(Status::Failed, None)
        })
        .len();
        assert!(base > 0);
        let reason = "x".repeat(MAX_BODY_BYTES - empty_len);
        let body = response(Status::Failed, Some(&reason)).render();
        assert_eq!(body.len(), MAX_BODY_BYTES);
        assert_eq!(parse(&body)["Reason"].as_str().unwrap(), reason);
    }

    #[test]
    fn oversized_data_turns_into_failed_naming_the_cause() {
        let mut r = response(Status::Success, None);
        r.data.insert("Big".into(), json!("x".repeat(5000)));
        let body = r.render();
        assert!(body.len() <= MAX_BODY_BYTES);
        let v = parse(&body);
        assert_eq!(v["Status"], "FAILED");
        assert!(v.get("Data").is_none());
        let reason = v["Reason"].as_str().unwrap();
        assert!(
            reason.contains("Data") && reason.contains("4096"),
            "{reason}"
        );
    }

    #[test]
    fn data_keeps_non_string_values_and_no_echo_is_sent_when_set() {
        let mut r = response(Status::Success, None);
        r.no_echo = true;
        r.data.insert("Count".into(), json!(2));
        let v = parse(&r.render());
        assert_eq!(v["NoEcho"], true);
        assert_eq!(v["Data"]["Count"], 2);
    }
}
