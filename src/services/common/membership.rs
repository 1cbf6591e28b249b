//! Group membership (ElastiCache user groups, MemoryDB ACLs) as a change to what the group
//! holds now, not to the old template: that also repairs drift, and stays right during a
//! rollback.

/// The change that turns `have` into `want`: (to add, to remove), in the order given, without
/// duplicates. Members for which `keep` holds are never removed (MemoryDB lists its `default`
/// user in every ACL without being asked).
pub(crate) fn diff(
    have: &[String],
    want: &[String],
    keep: impl Fn(&str) -> bool,
) -> (Vec<String>, Vec<String>) {
    let mut add: Vec<String> = Vec::new();
    for id in want {
        if !have.contains(id) && !add.contains(id) {
            add.push(id.clone());
        }
    }
    let remove = have
        .iter()
        .filter(|id| !want.contains(id) && !keep(id))
        .cloned()
        .collect();
    (add, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn adds_and_removes_only_the_difference() {
        let (add, remove) = diff(
            &s(&["default", "a", "b"]),
            &s(&["default", "b", "c", "c"]),
            |_| false,
        );
        assert_eq!(add, s(&["c"]));
        assert_eq!(remove, s(&["a"]));
        let (add, remove) = diff(&s(&["default"]), &s(&["default"]), |_| false);
        assert!(add.is_empty() && remove.is_empty());
    }

    #[test]
    fn kept_members_stay_unless_named() {
        let keep = |m: &str| m == "default";
        let (add, remove) = diff(&s(&["default", "a", "b"]), &s(&["b", "c"]), keep);
        assert_eq!(add, s(&["c"]));
        assert_eq!(remove, s(&["a"]));
        let (_, remove) = diff(&s(&["default", "a"]), &s(&["a"]), |_| false);
        assert_eq!(remove, s(&["default"]));
    }
}
