use health_runtime::health_check;

#[health_check(groups = "liveness")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
