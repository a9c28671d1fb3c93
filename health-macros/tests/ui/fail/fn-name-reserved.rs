use health_runtime::health_check;

#[health_check]
async fn startup() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
