use health_runtime::health_check;

#[health_check(service = "storage:v1")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
