use health_runtime::health_check;

#[health_check(interval = "1m30")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
