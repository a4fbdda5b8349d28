package console_test

// activityFormRoutes are the forms of the activity pages, for TestFormRoleMatrix.
var activityFormRoutes = []formRoute{}
