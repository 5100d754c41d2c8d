use super::secret::Raw;
use super::*;

fn jwt(exp: Option<i64>) -> Jwt {
    let payload = match exp {
        Some(exp) => format!(r#"{{"exp":{exp}}}"#),
        None => "{}".to_owned(),
    };
    let encoded = aws_smithy_types::base64::encode(payload)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_");
    Jwt::new(format!("eyJhbGciOiJIUzI1NiJ9.{encoded}.c2ln"))
}

fn versions(entries: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
    entries
        .iter()
        .map(|(id, stages)| {
            (
                (*id).to_owned(),
                stages.iter().map(|s| (*s).to_owned()).collect(),
            )
        })
        .collect()
}

#[test]
fn steps_are_the_four_of_the_protocol() {
    for step in [Step::Create, Step::Set, Step::Test, Step::Finish] {
        assert_eq!(Step::parse(step.name()), Some(step));
    }
    assert_eq!(Step::parse("CreateSecret"), None);
    assert_eq!(Step::parse(""), None);
    // The metric's Step values: these four, and "unknown".
    let names: Vec<&str> = [Step::Create, Step::Set, Step::Test, Step::Finish]
        .iter()
        .map(|s| s.name())
        .chain(["unknown"])
        .collect();
    assert_eq!(names, crate::metrics::catalogue::ROTATION_STEPS);
}

#[test]
fn every_step_checks_rotation_and_the_version_as_the_aws_template_does() {
    let v = versions(&[
        ("old", &[AWSPREVIOUS_FOR_TEST]),
        ("cur", &[AWSCURRENT]),
        ("new", &[AWSPENDING]),
    ]);
    assert_eq!(
        check_version(true, &v, "s", "new").unwrap(),
        Version::Pending
    );
    assert_eq!(
        check_version(true, &v, "s", "cur").unwrap(),
        Version::Current
    );
    assert!(matches!(
        check_version(false, &v, "s", "new"),
        Err(RotationError::NotEnabled(s)) if s == "s"
    ));
    assert!(matches!(
        check_version(true, &v, "s", "nope"),
        Err(RotationError::NoSuchVersion(_))
    ));
    assert!(matches!(
        check_version(true, &v, "s", "old"),
        Err(RotationError::NotPending(_))
    ));
    // Both labels on one version: a finished rotation.
    let both = versions(&[("cur", &[AWSCURRENT, AWSPENDING])]);
    assert_eq!(
        check_version(true, &both, "s", "cur").unwrap(),
        Version::Current
    );
}

const AWSPREVIOUS_FOR_TEST: &str = "AWSPREVIOUS";

#[test]
fn a_renewal_must_expire_later_than_the_current_jwt_and_say_so_when_it_does() {
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let day = 86_400;
    let t = |d: i64| Some(1_800_000_000 + d * day);
    // Later: fine. The current JWT without exp: nothing to compare.
    for (current, fresh) in [(t(5), t(30)), (None, t(30)), (None, None)] {
        check_renewal(&jwt(current), &jwt(fresh), now).unwrap();
    }
    // The current JWT expires, the new one says nothing (or is no JWT
    // at all): it might expire sooner, so it is not stored.
    let err = check_renewal(&jwt(t(5)), &jwt(None), now).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Rollee's token refresh gave a JWT without a readable expiry (exp), while the current one expires 2027-01-20T08:00:00Z: not stored"
    );
    assert!(matches!(
        check_renewal(&jwt(t(5)), &Jwt::new("not-a-jwt"), now),
        Err(RotationError::NoExpiry { .. })
    ));
    assert!(matches!(
        check_renewal(&jwt(t(30)), &jwt(t(30)), now),
        Err(RotationError::NotLater { .. })
    ));
    let err = check_renewal(&jwt(t(30)), &jwt(t(10)), now).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Rollee's token refresh gave a JWT expiring 2027-01-25T08:00:00Z, not later than the current one's (2027-02-14T08:00:00Z): not stored"
    );
    assert!(matches!(
        check_renewal(&jwt(t(-40)), &jwt(t(-1)), now),
        Err(RotationError::Expired(_))
    ));
    assert!(matches!(
        check_renewal(&jwt(None), &jwt(Some(1_800_000_000)), now),
        Err(RotationError::Expired(_))
    ));
}

#[test]
fn errors_say_what_happened_without_a_jwt() {
    let debug = format!("{:?}", Raw("eyJsecret.b.c".into()));
    assert!(!debug.contains("eyJ"), "{debug}");
    for e in [
        RotationError::Rejected,
        RotationError::RefreshRejected,
        RotationError::Unusable(AWSPENDING),
        RotationError::Refresh(RolleeError::Status { status: 502 }),
    ] {
        let line = e.to_string();
        assert!(!line.contains('\n') && !line.contains("eyJ"), "{line}");
    }
}
