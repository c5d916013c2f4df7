//! The names PostgreSQL gives to objects created without one (`makeObjectName` and
//! `ChooseRelationName` in PostgreSQL's source), so offline DDL and the live catalog agree on
//! `users_pkey`, `users_email_key`, `user_roles_user_id_fkey`, `orders_total_check`, `t_id_seq`.

/// Longest identifier PostgreSQL keeps (NAMEDATALEN - 1).
pub const MAX_IDENT: usize = 63;

/// `name1[_name2][_label]`, shortening name1 and name2 (the longer first) to fit 63 bytes.
pub fn make_object_name(name1: &str, name2: Option<&str>, label: Option<&str>) -> String {
    let mut overhead = 0;
    if let Some(l) = label {
        overhead += l.len() + 1;
    }
    if name2.is_some() {
        overhead += 1;
    }
    let avail = MAX_IDENT.saturating_sub(overhead);
    let mut n1 = name1.len();
    let mut n2 = name2.map_or(0, str::len);
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let mut out = clip(name1, n1).to_string();
    if let Some(n) = name2 {
        out.push('_');
        out.push_str(clip(n, n2));
    }
    if let Some(l) = label {
        out.push('_');
        out.push_str(l);
    }
    out
}

/// Cut `s` to at most `n` bytes on a character boundary.
pub fn clip(s: &str, n: usize) -> &str {
    let mut end = n.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Pick a name not yet `taken`, appending 1, 2, ... to the label as PostgreSQL does.
pub fn choose_name(name1: &str, name2: Option<&str>, label: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut candidate = make_object_name(name1, name2, Some(label));
    let mut pass = 0;
    while taken(&candidate) {
        pass += 1;
        let l = format!("{label}{pass}");
        candidate = make_object_name(name1, name2, Some(&l));
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(make_object_name("users", None, Some("pkey")), "users_pkey");
        assert_eq!(
            make_object_name("organization_users", Some("organization_id_email"), Some("key")),
            "organization_users_organization_id_email_key"
        );
    }

    #[test]
    fn long_names_are_shortened_like_postgres() {
        // PostgreSQL: CREATE TABLE aaaa..(40) (bbbb..(40) int UNIQUE) names the constraint
        // aaaaaaaaaaaaaaaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb_key (29 + 1 + 29 + 4).
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let n = make_object_name(&a, Some(&b), Some("key"));
        assert_eq!(n.len(), 63);
        assert_eq!(n, format!("{}_{}_key", "a".repeat(29), "b".repeat(29)));
    }

    #[test]
    fn collisions_get_numbers() {
        let n = choose_name("t", Some("a"), "key", |c| c == "t_a_key");
        assert_eq!(n, "t_a_key1");
    }
}
