// A configuration with people on one chat platform (the scripted adapter plays it as 'email'), and a
// message that awaits three of them: bob, carol, and group:finance (dave has an account there, erin
// none, and alice, also a member, is the requester).
export const chatConfig = {
  publicUrl: 'https://assent.example.com',
  people: {
    alice: { name: 'Alice Li', email: 'alice@example.com' },
    bob: { name: 'Bob Stone', email: 'bob@example.com' },
    carol: { email: 'carol@example.com' },
    dave: { email: 'dave@example.com' },
    frank: { email: 'frank@example.com' },
  },
  groups: { finance: ['dave', 'erin', 'alice'] },
  platforms: { email: { smtp: { host: '127.0.0.1', port: 2525 }, from: 'Assent <assent@example.com>' } },
  types: { purchase: { platforms: ['email'] } },
};

export const purchase = { type: 'purchase', title: 'Laptop <b>now</b>', payload: { amount: 1200, vendor: 'Acme' }, approvers: ['bob', 'carol', 'group:finance'] };
