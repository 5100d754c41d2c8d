fn main() -> Result<(), rollee_shared::lambda_http::lambda_runtime::Error> {
    deploy_check::run()
}
