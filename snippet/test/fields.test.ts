import { describe, expect, it } from 'vitest';
import { classify, type Signals } from '../src/fields.js';

/** An input as classification sees it: the attributes given, the rest empty (as the DOM reports them). */
function input(
  attributes: { name?: string; id?: string; type?: string; autocomplete?: string; placeholder?: string; maxLength?: number; field?: string } = {},
): Signals {
  const { field, ...rest } = attributes;
  return { name: '', id: '', type: 'text', autocomplete: '', placeholder: '', maxLength: -1, dataset: { funnelField: field }, ...rest } as Signals;
}

describe('classify: lead fields', () => {
  it.each([
    ['firstName', 'firstName'],
    ['lastName', 'lastName'],
    ['emailAddress', 'emailAddress'],
    ['phoneNumber', 'phoneNumber'],
    ['address1', 'address1'],
    ['address2', 'address2'],
    ['city', 'city'],
    ['state', 'state'],
    ['postalCode', 'postalCode'],
    ['country', 'country'],
  ])('knows Konnektive name %s', (name, field) => {
    expect(classify(input({ name }))).toBe(field);
  });

  it.each([
    ['shipFirstName', 'firstName'],
    ['shipLastName', 'lastName'],
    ['shipAddress1', 'address1'],
    ['shipAddress2', 'address2'],
    ['shipCity', 'city'],
    ['shipState', 'state'],
    ['shipPostalCode', 'postalCode'],
    ['shipCountry', 'country'],
    ['billing_fname', 'firstName'],
    ['last_name', 'lastName'],
    ['email', 'emailAddress'],
    ['zip', 'postalCode'],
    ['street-address', 'address1'],
  ])('knows lander variant %s', (name, field) => {
    expect(classify(input({ name }))).toBe(field);
  });

  it.each([
    ['given-name', 'firstName'],
    ['family-name', 'lastName'],
    ['email', 'emailAddress'],
    ['tel', 'phoneNumber'],
    ['tel-national', 'phoneNumber'],
    ['address-line1', 'address1'],
    ['address-line2', 'address2'],
    ['address-level2', 'city'],
    ['address-level1', 'state'],
    ['postal-code', 'postalCode'],
    ['country', 'country'],
    ['country-name', 'country'],
    ['shipping street-address', 'address1'],
    ['section-a billing postal-code', 'postalCode'],
  ])('knows autocomplete token %s', (autocomplete, field) => {
    expect(classify(input({ autocomplete }))).toBe(field);
  });

  it('reads an email type when name and id say nothing, but never takes a tel type alone for a phone', () => {
    expect(classify(input({ type: 'email', name: 'input_3' }))).toBe('emailAddress');
    expect(classify(input({ type: 'tel', name: 'field7' }))).toBeUndefined();
    expect(classify(input({ type: 'tel', name: 'field7', placeholder: 'Phone' }))).toBe('phoneNumber');
  });

  it('takes no phone from a field too short to hold one', () => {
    expect(classify(input({ type: 'tel', name: 'phone', maxLength: 10 }))).toBe('phoneNumber');
    expect(classify(input({ type: 'tel', name: 'phone', maxLength: 7 }))).toBe('phoneNumber');
    expect(classify(input({ type: 'tel', name: 'phone', maxLength: 6 }))).toBeUndefined();
    expect(classify(input({ type: 'tel', name: 'phone3', maxLength: 4 }))).toBeUndefined();
    // Only a phone: a zip code of 5 is still a zip code.
    expect(classify(input({ type: 'tel', name: 'zip', maxLength: 5 }))).toBe('postalCode');
  });

  it('prefers name and id to type: landers use type=tel for zip codes', () => {
    expect(classify(input({ type: 'tel', name: 'shipPostalCode' }))).toBe('postalCode');
  });

  it('recognises an input by its id when it has no name', () => {
    expect(classify(input({ id: 'emailAddress' }))).toBe('emailAddress');
    expect(classify(input({ id: 'phone' }))).toBe('phoneNumber');
  });

  it('falls back to the placeholder', () => {
    expect(classify(input({ placeholder: 'First Name' }))).toBe('firstName');
    expect(classify(input({ placeholder: 'Zip Code' }))).toBe('postalCode');
  });

  it('lets data-funnel-field override the name', () => {
    expect(classify(input({ field: 'emailAddress', name: 'contact' }))).toBe('emailAddress');
    expect(classify(input({ field: 'city', name: 'shipAddress1' }))).toBe('city');
  });

  it('matches whatever the case (real landers write type="TEXT" and mixed-case names)', () => {
    expect(classify(input({ name: 'EMAILADDRESS', type: 'text' }))).toBe('emailAddress');
  });

  it('ignores what it does not know', () => {
    expect(classify(input({ name: 'q', type: 'search' }))).toBeUndefined();
    expect(classify(input({ name: 'productId', type: 'hidden' }))).toBeUndefined();
    expect(classify(input({ name: 'comments' }))).toBeUndefined();
  });
});

describe('classify: never captured, whatever the configuration says', () => {
  it.each([
    // Names and ids seen on public Konnektive and Checkout Champ landers.
    { name: 'cardNumber' },
    { name: 'cardSecurityCode' },
    { name: 'cardMonth' },
    { name: 'cardYear' },
    { name: 'card-number', type: 'tel' },
    { name: 'cvv-number', type: 'tel' },
    { name: 'ccnumber', type: 'number' },
    { name: 'creditCardNumber', type: 'tel' },
    { id: 'card-number', type: 'tel' },
    { name: 'expMonth' },
    { name: 'exp_year' },
    { name: 'expiry', type: 'tel' },
    { name: 'cvc', type: 'tel' },
    { name: 'securityCode', type: 'tel' },
    { name: 'csc' },
  ])('excludes card input %o', (attributes) => {
    expect(classify(input(attributes))).toBeUndefined();
  });

  it('excludes a card input whose copy-pasted id says first name', () => {
    expect(classify(input({ id: 'billing_fname', name: 'creditCardNumber', type: 'tel' }))).toBeUndefined();
    expect(classify(input({ id: 'billing_fname', name: 'cardSecurityCode' }))).toBeUndefined();
    expect(classify(input({ id: 'billing_fname', placeholder: 'Card number' }))).toBeUndefined();
    expect(classify(input({ id: 'billing_fname', placeholder: '•••• •••• •••• ••••' }))).toBeUndefined();
    expect(classify(input({ id: 'billing_fname', placeholder: '4242 4242 4242 4242', type: 'tel' }))).toBeUndefined();
    expect(classify(input({ id: 'billing_fname', placeholder: 'MM / YY' }))).toBeUndefined();
  });

  it('excludes every autocomplete="cc-*" input, even one whose name says lead', () => {
    for (const autocomplete of ['cc-number', 'cc-exp', 'cc-exp-month', 'cc-csc', 'cc-name', 'cc-given-name', 'billing cc-number']) {
      expect(classify(input({ autocomplete, name: 'firstName' }))).toBeUndefined();
    }
  });

  it('excludes passwords, bank accounts and SSNs', () => {
    expect(classify(input({ type: 'password', name: 'emailAddress' }))).toBeUndefined();
    expect(classify(input({ name: 'password' }))).toBeUndefined();
    expect(classify(input({ autocomplete: 'new-password', name: 'email' }))).toBeUndefined();
    expect(classify(input({ name: 'accountNumber', id: 'phone' }))).toBeUndefined();
    expect(classify(input({ name: 'routingNumber', type: 'tel' }))).toBeUndefined();
    expect(classify(input({ name: 'iban' }))).toBeUndefined();
    expect(classify(input({ name: 'bank_account' }))).toBeUndefined();
    expect(classify(input({ name: 'ssn', type: 'tel' }))).toBeUndefined();
    expect(classify(input({ name: 'customer_ssn', id: 'phone' }))).toBeUndefined();
    expect(classify(input({ placeholder: 'Social Security Number', type: 'tel' }))).toBeUndefined();
  });

  it('holds even against data-funnel-field', () => {
    expect(classify(input({ field: 'firstName', name: 'cardNumber' }))).toBeUndefined();
    expect(classify(input({ field: 'phoneNumber', autocomplete: 'cc-number' }))).toBeUndefined();
  });

  it('skips checkboxes and radio buttons, whose value is not typed', () => {
    expect(classify(input({ type: 'checkbox', name: 'emailOptIn' }))).toBeUndefined();
    expect(classify(input({ type: 'radio', name: 'country' }))).toBeUndefined();
  });

  it('does not mistake ordinary lead fields for sensitive ones', () => {
    expect(classify(input({ name: 'emailAddress', placeholder: 'Enter your email address' }))).toBe('emailAddress');
    expect(classify(input({ name: 'phoneNumber', type: 'tel', placeholder: '(555) 555-5555' }))).toBe('phoneNumber');
    expect(classify(input({ name: 'shipAddress1', placeholder: 'Street Address' }))).toBe('address1');
    expect(classify(input({ name: 'postalCode', placeholder: '90210' }))).toBe('postalCode');
  });
});
