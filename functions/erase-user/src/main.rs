use rollee_shared::store::Store;

fn main() -> Result<(), rollee_shared::lambda_http::Error> {
    // The binary's name is its metrics' `Function` dimension; it publishes
    // `user.erased`, so it does not start without its bus.
    let function = env!("CARGO_BIN_NAME");
    rollee_shared::app::serve_with(
        move || rollee_shared::app::init_publishing_from_env(function),
        erase_user::handle::<Store>,
    )
}
