use health_runtime::health_check;

#[health_check(interval = "0s")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
