"""Bulk upsert input the services cannot take is refused with 422 in words (found by the API fuzz test)."""


def test_custom_must_be_an_object(api, admin_user):
    response = api(admin_user).post("/api/contacts/bulk", {"rows": [{"email": "a@example.com", "custom": "x"}]},
                                    content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "rows": ["Value error, Row 0: “custom” must be an object of field aliases and values."]}
