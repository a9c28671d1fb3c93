use health_runtime::health_check;

#[health_check(on_timeout = "warn")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
