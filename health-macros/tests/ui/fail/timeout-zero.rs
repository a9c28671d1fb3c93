use health_runtime::health_check;

#[health_check(timeout = "0ms")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
