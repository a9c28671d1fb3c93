use health_runtime::health_check;

#[health_check(groups = ["readiness", "startup", "readiness"])]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
