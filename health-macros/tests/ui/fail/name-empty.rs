use health_runtime::health_check;

#[health_check(name = "")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
