use health_runtime::health_check;

#[health_check(interval = "5y")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
