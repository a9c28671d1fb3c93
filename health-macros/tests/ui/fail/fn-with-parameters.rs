use health_runtime::health_check;

struct Pool;

#[health_check]
async fn database(pool: &Pool, retries: u32) -> Result<(), std::io::Error> {
    let _ = (pool, retries);
    Ok(())
}

fn main() {}
