use health_runtime::health_check;

#[health_check(timeout = "")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
