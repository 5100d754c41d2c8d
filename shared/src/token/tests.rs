use super::origin::script::{reads, scripted, scripted_with_delay, set_secret};
use super::*;

const LONG: Duration = Duration::from_secs(3600);

/// The storm: Rollee rejects the JWT, the secret still holds it,
/// 8 clients keep calling. Before: a secret read per wave of rejected
/// requests (the issue measured 427 reads for 423 requests). Now: one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_401s_reads_the_secret_once_per_interval() {
    let policy = TokenPolicy {
        max_age: LONG,
        ..TokenPolicy::default()
    };
    let source = scripted("eyJrejected.a.b", policy);
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..8 {
        let source = source.clone();
        clients.push(tokio::spawn(async move {
            let mut rejected = 0;
            while started.elapsed() < Duration::from_millis(300) {
                let token = source.current().await;
                // Rollee answers 401: the client asks for a new JWT.
                assert!(source.reload_after(&token).await.unwrap().is_none());
                rejected += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            rejected
        }));
    }
    let mut rejected = 0;
    for c in clients {
        rejected += c.await.unwrap();
    }
    assert!(rejected > 100, "{rejected} rejected requests");
    assert_eq!(reads(&source), 1, "{rejected} rejected requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_interval_a_401_reads_again_and_a_new_jwt_is_shared_by_all_waiting() {
    let policy = TokenPolicy {
        max_age: LONG,
        reread_interval: Duration::from_millis(100),
        warn_days: 14,
    };
    let source = scripted("eyJold.a.b", policy);
    let old = source.current().await;
    assert!(source.reload_after(&old).await.unwrap().is_none());
    assert_eq!(reads(&source), 1);

    // The rotation lands; the next 401s, after the interval, share one read.
    set_secret(&source, Ok("eyJnew.a.b"));
    tokio::time::sleep(Duration::from_millis(120)).await;
    let old = source.current().await;
    let mut waiting = Vec::new();
    for _ in 0..16 {
        let (source, old) = (source.clone(), old.clone());
        waiting.push(tokio::spawn(async move {
            source.reload_after(&old).await.unwrap()
        }));
    }
    for w in waiting {
        assert_eq!(w.await.unwrap().unwrap().jwt.expose(), "eyJnew.a.b");
    }
    assert_eq!(reads(&source), 2);
    assert_eq!(source.current().await.jwt.expose(), "eyJnew.a.b");
}

#[tokio::test]
async fn a_jwt_past_its_maximum_age_is_reread_first_and_kept_when_the_read_fails() {
    let policy = TokenPolicy {
        max_age: Duration::from_millis(400),
        ..TokenPolicy::default()
    };
    let source = scripted("eyJold.a.b", policy);
    assert_eq!(source.current().await.jwt.expose(), "eyJold.a.b");
    assert_eq!(reads(&source), 0, "young: no read");

    set_secret(&source, Ok("eyJnew.a.b"));
    tokio::time::sleep(Duration::from_millis(450)).await;
    let fresh = source.current().await;
    assert_eq!(fresh.jwt.expose(), "eyJnew.a.b");
    assert_eq!(reads(&source), 1);
    assert_eq!(source.current().await.jwt.expose(), "eyJnew.a.b");
    assert_eq!(reads(&source), 1, "young again: no read");

    // Secrets Manager fails: the held JWT is used, the next try waits a max age.
    set_secret(&source, Err(()));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(source.current().await.jwt.expose(), "eyJnew.a.b");
    assert_eq!(source.current().await.jwt.expose(), "eyJnew.a.b");
    assert_eq!(reads(&source), 2);

    // A 401 after a max-age read that found a new JWT: that JWT, no read.
    set_secret(&source, Ok("eyJnewer.a.b"));
    tokio::time::sleep(Duration::from_millis(450)).await;
    let before = CurrentToken {
        jwt: Jwt::new("eyJnew.a.b"),
        generation: fresh.generation,
    };
    assert_eq!(source.current().await.jwt.expose(), "eyJnewer.a.b");
    let retry = source.reload_after(&before).await.unwrap().unwrap();
    assert_eq!(retry.jwt.expose(), "eyJnewer.a.b");
    assert_eq!(reads(&source), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_one_request_rereads_an_old_jwt_the_others_do_not_wait() {
    let policy = TokenPolicy {
        max_age: Duration::from_millis(20),
        ..TokenPolicy::default()
    };
    let source = scripted_with_delay("eyJold.a.b", policy, Duration::from_millis(500));
    set_secret(&source, Ok("eyJnew.a.b"));
    tokio::time::sleep(Duration::from_millis(30)).await;
    let reader = {
        let source = source.clone();
        tokio::spawn(async move { source.current().await })
    };
    while reads(&source) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // The reader's read takes 500 ms; meanwhile another request gets the held JWT at once.
    let started = Instant::now();
    let other = source.current().await;
    assert!(started.elapsed() < Duration::from_millis(250));
    assert_eq!(other.jwt.expose(), "eyJold.a.b");
    assert_eq!(reader.await.unwrap().jwt.expose(), "eyJnew.a.b");
    assert_eq!(reads(&source), 1);
}

#[tokio::test]
async fn a_fixed_token_is_not_reloaded() {
    let source = TokenSource::fixed(Jwt::new("t"));
    let current = source.current().await;
    assert_eq!(current.jwt.expose(), "t");
    assert!(source.reload_after(&current).await.unwrap().is_none());
}
