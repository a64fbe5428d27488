"""Resources: donors and partners, donations and allocations, needs, workers, volunteers,
referrals and public-benefit projects of a county hub (资源链接, 五社联动)."""
