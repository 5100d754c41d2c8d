use rollee_shared::store::Store;

fn main() -> Result<(), rollee_shared::lambda_http::Error> {
    // The binary's name is its metrics' `Function` dimension.
    rollee_shared::app::serve(env!("CARGO_BIN_NAME"), new_session::handle::<Store>)
}
