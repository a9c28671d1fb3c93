use health_runtime::health_check;

#[health_check(name = database)]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
