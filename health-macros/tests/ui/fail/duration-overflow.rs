use health_runtime::health_check;

#[health_check(interval = "99999999999999999h")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
