use health_runtime::health_check;

#[health_check(on_error = "healthy")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
