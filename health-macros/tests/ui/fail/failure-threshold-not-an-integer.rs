use health_runtime::health_check;

#[health_check(failure_threshold = "3")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
