use health_runtime::health_check;

#[health_check(name = "a-very-long-check-name-that-goes-on-and-on-and-on-past-the-limit-of-one-hundred-and-twenty-eight-bytes-which-no-service-name-needs")]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
