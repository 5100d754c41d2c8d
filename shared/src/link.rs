//! Identifiers both sides of the server read: canonical UUIDs, and the session
//! UUID at the end of a Rollee Connect link.
//!
//! A Connect link is `https://<connect host>/v0.4/session/<SESSION_UUID>`: the
//! session token is the last path segment, not a query parameter (Rollee's
//! published example and its Flutter SDK). The host is never checked: Rollee
//! publishes neither its sandbox nor its production Connect host.

use url::Url;
use uuid::Uuid;

/// A UUID in its canonical hyphenated form (36 characters), any case.
pub fn parse_uuid(raw: &str) -> Option<Uuid> {
    (raw.len() == 36)
        .then(|| Uuid::try_parse(raw).ok())
        .flatten()
}

/// The session UUID of a Connect link: `…/session/<UUID>`, one trailing slash tolerated.
pub fn session_of_link(link: &Url) -> Option<Uuid> {
    let mut segments = link.path_segments()?.rev().skip_while(|s| s.is_empty());
    let id = segments.next()?;
    let parent = segments.next()?;
    if parent != "session" {
        return None;
    }
    parse_uuid(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_must_be_canonical() {
        assert!(parse_uuid("0B7C7B5E-7A59-4E61-9A55-3D0F8F0C2A11").is_some());
        assert!(parse_uuid("0b7c7b5e7a594e619a553d0f8f0c2a11").is_none());
        assert!(parse_uuid("urn:uuid:0b7c7b5e-7a59-4e61-9a55-3d0f8f0c2a11").is_none());
    }

    #[test]
    fn the_session_is_the_segment_after_session() {
        let id = "5f0b1a2e-0c53-4d8e-9f7e-0f2a9a0f5b11";
        for ok in [
            format!("https://c.example/v0.4/session/{id}"),
            format!("https://c.example/v0.4/session/{id}/"),
        ] {
            let url = Url::parse(&ok).unwrap();
            assert_eq!(session_of_link(&url).unwrap().to_string(), id, "{ok}");
        }
        for bad in [
            format!("https://c.example/v0.4/other/{id}"),
            format!("https://c.example/v0.4/session/{id}/extra"),
            "https://c.example/v0.4/session/not-a-uuid".to_owned(),
        ] {
            assert!(
                session_of_link(&Url::parse(&bad).unwrap()).is_none(),
                "{bad}"
            );
        }
    }
}
