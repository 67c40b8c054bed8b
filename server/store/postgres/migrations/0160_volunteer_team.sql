-- Teams (issue 14): a volunteer names the team it joins in its hello, as
-- it names itself (protocol.CleanTeam); the last hello wins, '' is no team.
-- A team's credit is the sum of its members' credit (the leaderboard sums
-- it when asked), so a volunteer who changes teams takes its credit along.
ALTER TABLE volunteers ADD COLUMN team TEXT NOT NULL DEFAULT '';
CREATE INDEX volunteers_team_idx ON volunteers(team) WHERE team <> '';
