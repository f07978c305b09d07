-- KYC Desk schema v6: a case may be assigned to one reviewer (taken, or assigned by a supervisor).
ALTER TABLE cases ADD COLUMN assignee TEXT;
CREATE INDEX cases_assignee ON cases (assignee, status);
