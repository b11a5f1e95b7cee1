import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DecisionChip, ExceptionStatusText, SeverityStatus, TruncatedText } from './common';

describe('status never by colour alone', () => {
  it.each(['critical', 'high', 'medium', 'low', 'informational'] as const)(
    'severity %s shows an icon and the whole word on one line',
    severity => {
      render(<SeverityStatus severity={severity} />);
      const status = screen.getByTestId(`severity-${severity}`);
      // the word is one text node, never split (no mid-word wrap)
      expect(within(status).getByText(severity)).toBeInTheDocument();
      expect(status).toHaveStyle({ whiteSpace: 'nowrap' });
      expect(status).not.toHaveStyle({ wordBreak: 'break-all' });
      expect(status.querySelector('svg[aria-hidden="true"]')).not.toBeNull();
    },
  );

  it.each(['pending', 'approved', 'rejected', 'revoked', 'expired'] as const)(
    'exception status %s shows an icon and the word',
    status => {
      render(<ExceptionStatusText status={status} />);
      const el = screen.getByTestId(`exception-status-${status}`);
      expect(within(el).getByText(status)).toBeInTheDocument();
      expect(el.querySelector('svg')).not.toBeNull();
    },
  );

  it.each(['proceed', 'approval_required', 'block'] as const)('decision %s is a chip with an icon and the word', decision => {
    render(<DecisionChip decision={decision} />);
    const chip = screen.getByTestId(`decision-${decision}`);
    expect(within(chip).getByText(decision)).toBeInTheDocument();
    expect(chip.querySelector('svg')).not.toBeNull();
  });
});

describe('TruncatedText', () => {
  const long =
    'Active critical signal "Credential dumping via LSASS access" from crowdstrike (confidence 0.95, last seen 2030-01-10T11:53:38Z) contributes 94.9';

  it('keeps the whole text in the page, clamps it to two lines and shows it whole in a tooltip', async () => {
    render(<TruncatedText text={long} lines={2} />);
    const el = screen.getByText(long);
    expect(el).toHaveStyle({ overflow: 'hidden' });
    expect(el.style.webkitLineClamp).toBe('2');
    // wraps on word boundaries, never inside a word
    expect(el).not.toHaveStyle({ wordBreak: 'break-all' });
    await userEvent.hover(el);
    expect(await screen.findByRole('tooltip')).toHaveTextContent(long);
  });

  it('cuts a one-line text with an ellipsis', () => {
    render(<TruncatedText text="0b7c4d8e-5f7a-4a51-9a3e-2d8c7c1d9f00" lines={1} maxWidth="10ch" />);
    const el = screen.getByText('0b7c4d8e-5f7a-4a51-9a3e-2d8c7c1d9f00');
    expect(el).toHaveStyle({ whiteSpace: 'nowrap', textOverflow: 'ellipsis', maxWidth: '10ch' });
  });
});
