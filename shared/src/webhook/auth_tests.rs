use super::*;
use lambda_http::http::HeaderValue;

const SECRET: &str = "0123456789abcdef0123456789abcdef-generated";

fn keys(current: &Credentials, previous: Option<(&Credentials, Instant)>) -> Keys {
    Keys {
        current: current.clone(),
        previous: previous.map(|(c, until)| (c.clone(), until)),
    }
}

fn verifier(signature: Option<SignatureEncoding>) -> (Verifier, Credentials) {
    let credentials = Credentials::derive(SECRET).unwrap();
    let v = Verifier::new(
        HeaderName::from_static(DEFAULT_HEADER),
        signature,
        &keys(&credentials, None),
    )
    .unwrap();
    (v, credentials)
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn the_two_derived_values_differ_from_each_other_and_from_the_secret() {
    let c = Credentials::derive(SECRET).unwrap();
    assert_eq!(c.header_value().len(), 64);
    assert_ne!(c.header_value(), c.signing_key());
    assert!(!c.header_value().contains(SECRET) && !c.signing_key().contains(SECRET));
    assert_eq!(
        Credentials::derive(&format!("  {SECRET}\n")),
        Some(c.clone())
    );
    assert!(Credentials::derive("short").is_none());
    assert_eq!(format!("{c:?}"), "Credentials { .. }");
}

#[test]
fn the_header_must_be_present_and_exact() {
    let (v, c) = verifier(None);
    assert_eq!(
        v.verify(&HeaderMap::new(), b"{}"),
        Err(Rejection::MissingHeader)
    );
    let wrong = format!("{}0", c.header_value());
    assert_eq!(
        v.verify(&headers(&[(DEFAULT_HEADER, &wrong)]), b"{}"),
        Err(Rejection::WrongHeader)
    );
    assert_eq!(
        v.verify(&headers(&[(DEFAULT_HEADER, c.signing_key())]), b"{}"),
        Err(Rejection::WrongHeader)
    );
    assert_eq!(
        v.verify(&headers(&[(DEFAULT_HEADER, c.header_value())]), b"{}"),
        Ok(())
    );
}

#[test]
fn with_signatures_on_the_body_must_match_in_the_configured_encoding() {
    for encoding in [SignatureEncoding::Hex, SignatureEncoding::Base64] {
        let (v, c) = verifier(Some(encoding));
        let body = br#"{"action":"create_user"}"#;
        let good = sign(c.signing_key(), body, encoding);
        let h = |sig: &str| headers(&[(DEFAULT_HEADER, c.header_value()), (SIGNATURE_HEADER, sig)]);
        assert_eq!(v.verify(&h(&good), body), Ok(()));
        assert_eq!(v.verify(&h(&format!("sha512={good}")), body), Ok(()));
        assert_eq!(
            v.verify(&h(&good), br#"{"action":"delete_user"}"#),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            v.verify(&h("not a signature"), body),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            v.verify(&headers(&[(DEFAULT_HEADER, c.header_value())]), body),
            Err(Rejection::MissingSignature)
        );
    }
    // Hex in either case.
    let (v, c) = verifier(Some(SignatureEncoding::Hex));
    let upper = sign(c.signing_key(), b"x", SignatureEncoding::Hex).to_uppercase();
    let h = headers(&[
        (DEFAULT_HEADER, c.header_value()),
        (SIGNATURE_HEADER, &upper),
    ]);
    assert_eq!(v.verify(&h, b"x"), Ok(()));
}

#[test]
fn the_previous_value_passes_until_its_grace_ends_and_only_then() {
    let old = Credentials::derive(SECRET).unwrap();
    let new = Credentials::derive(&format!("{SECRET}-rotated")).unwrap();
    let header = HeaderName::from_static(DEFAULT_HEADER);
    let with = |c: &Credentials| headers(&[(DEFAULT_HEADER, c.header_value())]);
    let later = Instant::now() + Duration::from_secs(60);
    let v = Verifier::new(header.clone(), None, &keys(&new, Some((&old, later)))).unwrap();
    assert_eq!(v.verify(&with(&new), b"{}"), Ok(()));
    assert_eq!(v.verify(&with(&old), b"{}"), Ok(()));
    // Grace over: only the current value.
    let past = Instant::now();
    let v = Verifier::new(header, None, &keys(&new, Some((&old, past)))).unwrap();
    assert_eq!(v.verify(&with(&new), b"{}"), Ok(()));
    assert_eq!(v.verify(&with(&old), b"{}"), Err(Rejection::WrongHeader));
    assert!(
        Rejection::WrongHeader.may_be_rotation() && !Rejection::MissingHeader.may_be_rotation()
    );
}

#[test]
fn encodings_round_trip() {
    for n in 0..70u8 {
        let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
        assert_eq!(hex_decode(&hex(&bytes)), Some(bytes.clone()));
        assert_eq!(base64_decode(&base64(&bytes)), Some(bytes.clone()));
    }
    assert_eq!(base64(b"foob"), "Zm9vYg==");
    assert_eq!(hex_decode("0g"), None);
    assert_eq!(hex_decode("abc"), None);
    assert_eq!(base64_decode("Zm9vYg!="), None);
    assert_eq!(base64_decode("Z"), None);
    assert_eq!(
        body_digest(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
