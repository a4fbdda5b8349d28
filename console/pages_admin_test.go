package console_test

// adminFormRoutes are the forms of the admin pages, for TestFormRoleMatrix.
var adminFormRoutes = []formRoute{}
