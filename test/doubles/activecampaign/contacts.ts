/**
 * `/api/3/contact/sync`, `/api/3/fields`, `/api/3/fieldRels`, `/api/3/tags`, `/api/3/contactTags`
 * and `/api/3/contacts/{id}/contactTags|trackingLogs`: the contact side ActiveCampaign keeps for
 * the lifecycle sync (custom fields, tags, tracked events), as strict as its reference shows.
 */
import { EMAIL, isBlank } from '../wire-checks.js';
import { acDate, acError, idOf, invalid, list, missing, notFound, notWrapped, unprocessable, unwrap, type AcError, type Json, type Reply } from './wire.js';

export interface AcContact {
  id: string;
  email: string;
  firstName?: string;
  lastName?: string;
  phone?: string;
  /** Custom field id → value. */
  fieldValues: Map<string, string>;
  createdAt: number;
}
export interface AcField {
  id: string;
  title: string;
  type: string;
  perstag: string;
  /** Lists it is shown on (`fieldRels`; 0 = all). */
  relids: string[];
}
export interface AcTag {
  id: string;
  tag: string;
  tagType: string;
}
export interface AcContactTag {
  id: string;
  contact: string;
  tag: string;
  createdAt: number;
}
/** One tracked event (`trackcmp.net/event`) as the contact's tracking log shows it. */
export interface AcTrackingLog {
  id: string;
  contact: string;
  event: string;
  eventdata: string;
  at: number;
}

/** AC's documented field types (reference 3.2), `number` included (its examples use it). */
const FIELD_TYPES = new Set(['dropdown', 'hidden', 'checkbox', 'date', 'text', 'datetime', 'textarea', 'NULL', 'listbox', 'radio', 'number']);

export interface AcContactStore {
  now(): number;
  contacts: Map<string, AcContact>;
  fields: Map<string, AcField>;
  tags: Map<string, AcTag>;
  contactTags: Map<string, AcContactTag>;
  trackingLogs: AcTrackingLog[];
  ids: { contact: number; field: number; tag: number; contactTag: number; trackingLog: number };
}

export function contactsResource(store: AcContactStore) {
  const { now, contacts, fields, tags, contactTags, trackingLogs, ids } = store;

  const contactView = (c: AcContact): Json => ({
    email: c.email,
    ...(c.firstName === undefined ? {} : { firstName: c.firstName }),
    ...(c.lastName === undefined ? {} : { lastName: c.lastName }),
    ...(c.phone === undefined ? {} : { phone: c.phone }),
    cdate: acDate(c.createdAt),
    links: { contactTags: `/api/3/contacts/${c.id}/contactTags`, trackingLogs: `/api/3/contacts/${c.id}/trackingLogs` },
    id: c.id,
  });
  const fieldView = (f: AcField): Json => ({ title: f.title, type: f.type, perstag: f.perstag, id: f.id });
  const tagView = (t: AcTag): Json => ({ tag: t.tag, tagType: t.tagType, id: t.id });
  const contactTagView = (ct: AcContactTag): Json => ({ contact: ct.contact, tag: ct.tag, cdate: acDate(ct.createdAt), id: ct.id });

  function fieldValueProblem(field: AcField, value: string): string | undefined {
    if (field.type === 'date' && value !== '' && !/^\d{4}-\d{2}-\d{2}$/.test(value)) return `field ${field.id} is a date: use YYYY-MM-DD`;
    if (field.type === 'number' && value !== '' && !/^-?\d+(\.\d+)?$/.test(value)) return `field ${field.id} is a number`;
    return undefined;
  }

  function syncContact(body: unknown): Reply {
    const data = unwrap(body, 'contact');
    if (!data) return notWrapped('contact');
    const errors: AcError[] = [];
    if (isBlank(data.email)) errors.push(missing('email'));
    else if (typeof data.email !== 'string' || !EMAIL.test(data.email)) errors.push(invalid('email', 'Not a valid email address'));
    for (const key of ['firstName', 'lastName', 'phone']) {
      if (data[key] !== undefined && typeof data[key] !== 'string') errors.push(invalid(key, `${key} must be a string`));
    }
    const values: Array<[string, string]> = [];
    if (data.fieldValues !== undefined) {
      if (!Array.isArray(data.fieldValues)) errors.push(invalid('fieldValues', 'fieldValues must be an array'));
      else {
        data.fieldValues.forEach((entry: unknown, i: number) => {
          const fieldId = typeof entry === 'object' && entry !== null ? idOf((entry as Json).field) : undefined;
          const value = typeof entry === 'object' && entry !== null ? (entry as Json).value : undefined;
          const field = fieldId ? fields.get(fieldId) : undefined;
          if (!field) errors.push(acError('related_missing', `fieldValues/${i}/field`, `No field with id ${String(fieldId)}`));
          else if (typeof value !== 'string') errors.push(invalid(`fieldValues/${i}/value`, 'value must be a string'));
          else {
            const problem = fieldValueProblem(field, value);
            if (problem) errors.push(invalid(`fieldValues/${i}/value`, problem));
            else values.push([field.id, value]);
          }
        });
      }
    }
    if (errors.length > 0) return unprocessable(errors);
    const email = String(data.email);
    let contact = [...contacts.values()].find((c) => c.email.toLowerCase() === email.toLowerCase());
    const created = contact === undefined;
    if (!contact) {
      ids.contact += 1;
      contact = { id: String(ids.contact), email, fieldValues: new Map(), createdAt: now() };
      contacts.set(contact.id, contact);
    }
    for (const key of ['firstName', 'lastName', 'phone'] as const) if (typeof data[key] === 'string') contact[key] = data[key];
    for (const [field, value] of values) contact.fieldValues.set(field, value);
    const fieldValues = [...contact.fieldValues].map(([field, value], i) => ({ contact: contact.id, field, value, id: String(i + 1) }));
    return { status: created ? 201 : 200, body: { fieldValues, contact: contactView(contact) } };
  }

  function createField(body: unknown): Reply {
    const data = unwrap(body, 'field');
    if (!data) return notWrapped('field');
    const errors: AcError[] = [];
    if (isBlank(data.title)) errors.push(missing('title'));
    if (isBlank(data.type)) errors.push(missing('type'));
    else if (!FIELD_TYPES.has(String(data.type))) errors.push(invalid('type', `unknown field type ${String(data.type)}`));
    if (errors.length === 0) {
      for (const f of fields.values()) {
        if (f.title === data.title) errors.push(acError('duplicate', 'title', 'There is already a field with this title'));
        if (!isBlank(data.perstag) && f.perstag === String(data.perstag).toUpperCase()) errors.push(invalid('perstag', 'This personalization tag is already in use'));
      }
    }
    if (errors.length > 0) return unprocessable(errors);
    ids.field += 1;
    const perstag = isBlank(data.perstag) ? String(data.title).toUpperCase().replace(/\W+/g, '_') : String(data.perstag).toUpperCase();
    const field: AcField = { id: String(ids.field), title: String(data.title), type: String(data.type), perstag, relids: [] };
    fields.set(field.id, field);
    return { status: 201, body: { field: fieldView(field) } };
  }

  function createFieldRel(body: unknown): Reply {
    const data = unwrap(body, 'fieldRel');
    if (!data) return notWrapped('fieldRel');
    const fieldId = idOf(data.field);
    const field = fieldId ? fields.get(fieldId) : undefined;
    if (!field) return unprocessable([acError('related_missing', 'field', `No field with id ${String(data.field)}`)]);
    const relid = String(data.relid ?? '');
    if (!/^\d+$/.test(relid)) return unprocessable([invalid('relid', 'relid must be a list id, or 0 for all lists')]);
    if (!field.relids.includes(relid)) field.relids.push(relid);
    return { status: 201, body: { fieldRel: { field: field.id, relid, id: `${field.id}-${relid}` } } };
  }

  function createTag(body: unknown): Reply {
    const data = unwrap(body, 'tag');
    if (!data) return notWrapped('tag');
    if (isBlank(data.tag)) return unprocessable([missing('tag')]);
    if (data.tagType !== undefined && data.tagType !== 'contact' && data.tagType !== 'template') return unprocessable([invalid('tagType', 'tagType must be contact or template')]);
    const name = String(data.tag);
    if ([...tags.values()].some((t) => t.tag.toLowerCase() === name.toLowerCase())) return unprocessable([acError('duplicate', 'tag', 'A tag with this name already exists')]);
    ids.tag += 1;
    const tag: AcTag = { id: String(ids.tag), tag: name, tagType: String(data.tagType ?? 'contact') };
    tags.set(tag.id, tag);
    return { status: 201, body: { tag: tagView(tag) } };
  }

  function addContactTag(body: unknown): Reply {
    const data = unwrap(body, 'contactTag');
    if (!data) return notWrapped('contactTag');
    const contact = idOf(data.contact);
    const tag = idOf(data.tag);
    if (!contact || !tag) return unprocessable([acError('field_missing', contact ? 'tag' : 'contact', 'Missing attribute')]);
    if (!contacts.has(contact)) return { status: 404, body: { errors: [{ status: 404, title: 'Not Found', detail: 'Contact not found' }] } };
    if (!tags.has(tag)) return unprocessable([acError('related_missing', 'tag', `No tag with id ${tag}`)]);
    // What AC answers for a tag the contact has already is not documented; the double is strict.
    if ([...contactTags.values()].some((ct) => ct.contact === contact && ct.tag === tag)) return unprocessable([acError('duplicate', 'tag', 'The contact has this tag already')]);
    ids.contactTag += 1;
    const ct: AcContactTag = { id: String(ids.contactTag), contact, tag, createdAt: now() };
    contactTags.set(ct.id, ct);
    return { status: 201, body: { contactTag: contactTagView(ct) } };
  }

  /** Routes of `/api/3/<resource>[/<id>[/<sub>]]`; undefined when not one of these. */
  function route(method: string, resource: string, id: string | undefined, sub: string | undefined, query: Record<string, string>, body: unknown): Reply | undefined {
    if (resource === 'contact' && id === 'sync' && sub === undefined && method === 'POST') return syncContact(body);
    if (resource === 'fields' && id === undefined && sub === undefined) {
      if (method === 'POST') return createField(body);
      if (method === 'GET') {
        const perstag = query['filters[perstag]'];
        const found = [...fields.values()].filter((f) => perstag === undefined || f.perstag === perstag.toUpperCase());
        return list('fields', found, query, fieldView);
      }
    }
    if (resource === 'fieldRels' && id === undefined && sub === undefined && method === 'POST') return createFieldRel(body);
    if (resource === 'tags' && id === undefined && sub === undefined) {
      if (method === 'POST') return createTag(body);
      if (method === 'GET') {
        const search = (query.search ?? query['filters[search][eq]'] ?? '').toLowerCase();
        return list('tags', [...tags.values()].filter((t) => t.tag.toLowerCase().includes(search)), query, tagView);
      }
    }
    if (resource === 'contactTags' && sub === undefined) {
      if (id === undefined && method === 'POST') return addContactTag(body);
      if (id !== undefined && method === 'DELETE') {
        if (!contactTags.delete(id)) return { status: 404, body: { message: `No Result found for SubscriberTag with id ${id}` } };
        return { status: 200, body: {} };
      }
    }
    if (resource === 'contacts' && id !== undefined && method === 'GET') {
      const contact = contacts.get(id);
      if (!contact) return notFound('Subscriber', id);
      if (sub === 'contactTags') return list('contactTags', [...contactTags.values()].filter((ct) => ct.contact === id), query, contactTagView);
      if (sub === 'trackingLogs') {
        // INFERRED shape: AC's reference names the route, not its fields.
        const logs = trackingLogs.filter((log) => log.contact === id);
        return list('trackingLogs', logs, query, (log) => ({ contact: log.contact, type: 'event', value: log.event, data: log.eventdata, tstamp: acDate(log.at), id: log.id }));
      }
      if (sub === undefined) return { status: 200, body: { contact: contactView(contact) } };
    }
    return undefined;
  }

  /** `POST trackcmp.net/event` (form-encoded): 200 `{"success":1,…}`, or 400 `{}` as AC answers. */
  function trackEvent(raw: string, account: { actid: string; key: string }): Reply {
    const form = new URLSearchParams(raw);
    const event = form.get('event') ?? '';
    let email: unknown;
    try {
      email = (JSON.parse(form.get('visit') ?? '') as Json).email;
    } catch {
      email = undefined;
    }
    const ok = form.get('actid') === account.actid && form.get('key') === account.key && event !== '' && event.length <= 32 && typeof email === 'string' && EMAIL.test(email);
    if (!ok) return { status: 400, body: {} };
    let contact = [...contacts.values()].find((c) => c.email.toLowerCase() === String(email).toLowerCase());
    if (!contact) {
      ids.contact += 1;
      contact = { id: String(ids.contact), email: String(email), fieldValues: new Map(), createdAt: now() };
      contacts.set(contact.id, contact);
    }
    ids.trackingLog += 1;
    trackingLogs.push({ id: String(ids.trackingLog), contact: contact.id, event, eventdata: form.get('eventdata') ?? '', at: now() });
    return { status: 200, body: { success: 1, message: 'Event spawned' } };
  }

  return { route, trackEvent };
}
