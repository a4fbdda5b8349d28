package console_test

// customerFormRoutes are the forms of the customer pages, for TestFormRoleMatrix.
var customerFormRoutes = []formRoute{}
