package keel

// A draft is its creator's until it is submitted: they may edit it (Edit)
// or delete it (Delete), as a seller who made a typo fixes it rather than
// leave it lying around. No one else may, and an order once submitted
// stays as it is — finance decides on what was submitted, and what was
// approved is history.

// Edit replaces a draft's kind and lines with those of req, by the rules
// of a new order (NewOrder): the lines take the price in effect on their
// start, the trial rule counts the customer's other orders (req.Orders;
// the draft itself is left out). req.Customer is the order's customer: an
// order does not change customer. Only the draft's creator may edit it
// (EFORBIDDEN); any other order is ECONFLICT. On a refusal o is unchanged.
func (o *Order) Edit(by Employee, req OrderRequest, now Moment) error {
	if err := o.CheckEdit(by); err != nil {
		return err
	}
	if req.Customer.ID != o.CustomerID {
		return Invalid("customer_id", "an order stays with its customer; create a new order for customer %d", req.Customer.ID)
	}
	others := make([]Order, 0, len(req.Orders))
	for _, other := range req.Orders {
		if other.ID != o.ID {
			others = append(others, other)
		}
	}
	req.Orders = others
	n, err := NewOrder(by, req, now)
	if err != nil {
		return err
	}
	o.Kind, o.Currency, o.Lines = n.Kind, n.Currency, n.Lines
	return nil
}

// CheckEdit returns the refusal Edit gives by before it reads a request:
// nil when o is a draft by created (a page offers the edit form then).
func (o Order) CheckEdit(by Employee) error {
	if err := by.Can(ActOrderCreate); err != nil {
		return err
	}
	if by.ID != o.CreatedBy {
		return Errorf(EFORBIDDEN, "only the employee who created order %d may edit it", o.ID)
	}
	if o.Status != OrderDraft {
		return Errorf(ECONFLICT, "order %d is %s; only a draft can be edited", o.ID, o.Status)
	}
	return nil
}

// Delete returns nil when by may delete o: it is a draft and by created
// it (EFORBIDDEN for anyone else, ECONFLICT for an order submitted). A
// draft has granted nothing and no fact was ever sent about it, so
// deleting it takes nothing from anyone; the audit log keeps it.
func (o Order) Delete(by Employee) error {
	if err := by.Can(ActOrderCreate); err != nil {
		return err
	}
	if by.ID != o.CreatedBy {
		return Errorf(EFORBIDDEN, "only the employee who created order %d may delete it", o.ID)
	}
	if o.Status != OrderDraft {
		return Errorf(ECONFLICT, "order %d is %s; only a draft can be deleted", o.ID, o.Status)
	}
	return nil
}
