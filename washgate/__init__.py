"""washgate: phone identity and carwash orders, one GraphQL server speaking five legacy REST APIs."""
