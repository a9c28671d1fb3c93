use health_runtime::health_check;

#[health_check(timeout = "5s", timeout = "10s")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
