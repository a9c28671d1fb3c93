use health_runtime::health_check;

#[health_check(failure_threshold = 5000000000)]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
