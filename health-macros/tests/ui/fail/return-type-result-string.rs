use health_runtime::health_check;

#[health_check]
fn database() -> Result<String, std::io::Error> {
    Ok(String::from("up"))
}

fn main() {}
