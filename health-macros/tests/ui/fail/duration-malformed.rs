use health_runtime::health_check;

#[health_check(timeout = "1,5s")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
