use health_runtime::health_check;

#[health_check(failure_threshold = 0)]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
