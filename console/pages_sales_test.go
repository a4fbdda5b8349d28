package console_test

// salesFormRoutes are the forms of the sales pages, for TestFormRoleMatrix.
var salesFormRoutes = []formRoute{}
